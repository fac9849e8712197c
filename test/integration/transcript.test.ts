// The transcript panel in a real VS Code: a recorded attempt (events and transcript
// evidence written with the product's own stores, as the engine writes them) opened
// with `factory.showTranscript`, checked in the rendered webview — the agent's text,
// its tool calls, hostile markup shown as text, the cost — and the diff of an edited
// file against the attempt's start tree.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ulid } from 'ulid';
import * as vscode from 'vscode';
import { FileEvidenceStore } from '../../src/store/evidence';
import { FileRecordStore } from '../../src/store/recordStore';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';
import { assertNoCspViolation } from './support/csp';

const HOSTILE = `Careful: <script>window.__pwned = 1</script><img src=x onerror="alert('xss')"> stays text.`;
const ORIGINAL_README = '# Sample app\n\nA tiny app the Factory Cockpit demo works on.\n';

describe('Transcript view', () => {
  const config = runConfig();
  const changeId = config.sample.otherChangeId;
  const attemptId = ulid();
  let readme: string;

  before(async () => {
    const workspace = config.workspace;
    readme = join(workspace, 'README.md');
    // The real Claude Code transcript, as if it had run in this workspace and edited README.md.
    const fixture = readFileSync(join(config.repo, 'test', 'fixtures', 'agents', 'claude-code', 'success.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((line) => line.replaceAll('/workspace/project/hello.txt', readme).replaceAll('/workspace/project', workspace));
    const hostile = JSON.stringify({
      type: 'assistant',
      message: { id: 'msg_hostile', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: HOSTILE }], usage: { input_tokens: 10, output_tokens: 5 } },
    });
    const lines = [fixture[0]!, hostile, ...fixture.slice(1)];
    const transcript = [
      { stream: 'meta', line: '$ claude -p --output-format stream-json --verbose' },
      ...lines.map((line) => ({ stream: 'stdout', line })),
    ]
      .map((entry) => JSON.stringify(entry))
      .join('\n');
    const evidence = new FileEvidenceStore(workspace);
    const ref = await evidence.put(`${transcript}\n`, { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
    const startTree = execFileSync('git', ['rev-parse', 'HEAD^{tree}'], { cwd: workspace, encoding: 'utf8' }).trim();
    const store = new FileRecordStore(workspace);
    const by = { name: 'Dana Developer', email: 'dana@example.com' };
    await store.append(changeId, {
      type: 'attempt.started',
      by,
      data: { stageId: 'plan', attemptId, backend: 'claude-code', model: 'claude-sonnet-4-5', prompt: 'Write PLAN.md for "Fix login redirect".', number: 1, start: { tree: startTree } },
    });
    await store.append(changeId, {
      type: 'attempt.finished',
      by,
      data: { stageId: 'plan', attemptId, outcome: 'succeeded', durationMs: 404, usage: { inputTokens: 420, outputTokens: 90, cachedTokens: 60, costUsd: 0.002448, costSource: 'agent', turns: 3 }, transcript: ref },
    });
    // What the agent's edit left in the working tree.
    writeFileSync(readme, `${ORIGINAL_README}\nEdited by the agent.\n`);
    const api = await cockpitApi();
    await api.refresh();
    // Not the current change: the snapshot lists it from the summary index, the transcript command reads it in full.
    await snapshotWhere(api, (s) => s.changes.some((c) => c.id === changeId && c.stages[0]?.status !== 'pending'), 'the recorded attempt in the listed change');
  });

  after(() => {
    writeFileSync(readme, ORIGINAL_README);
  });

  it('opens a recorded attempt and shows the agent text, its tool calls and the usage', async () => {
    await vscode.commands.executeCommand('factory.showTranscript', { changeId, attemptId });
    const texts = await eventually(async () => {
      const found = await browser.frameTexts('factory-transcript .entry.text');
      return found.some((t) => t.includes('Done: I read README.md and wrote hello.txt.')) ? found : undefined;
    }, 'the assistant text in the transcript panel');
    assert.ok(texts.length >= 2, `two assistant messages in ${JSON.stringify(texts)}`);
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    assert.ok(tabs.includes('Transcript: Plan #1'), `panel tab in ${JSON.stringify(tabs)}`);

    const tools = await browser.frameTexts('factory-transcript .entry.tool summary');
    assert.ok(
      tools.some((t) => t.includes('Write') && t.includes(readme) && t.includes('done')),
      `the Write call with its file path in ${JSON.stringify(tools)}`,
    );
    assert.ok(tools.some((t) => t.includes('Read')), 'the Read call');
    // Tool calls are folded until opened.
    const open = await browser.frameEval('factory-transcript details.entry.tool', 'open');
    assert.ok(open.length >= 2 && open.every((o) => o === false), `tool calls folded: ${JSON.stringify(open)}`);

    const header = (await browser.frameTexts('factory-transcript .header')).join('\n');
    assert.match(header, /Plan #1/);
    assert.match(header, /Fix login redirect/);
    assert.match(header, /Succeeded/);
    assert.match(header, /420 in \/ 90 out/);
    assert.match(header, /\$0\.0024 \(reported by the agent\)/);
    const files = await browser.frameTexts('factory-transcript .entry.file');
    assert.ok(files.some((t) => t.includes('README.md')), `the file edit in ${JSON.stringify(files)}`);
    await browser.screenshot('transcript-view');
    await assertNoCspViolation('factory-transcript', 'while the transcript draws');
  });

  it('shows markup inside agent output as literal text: no element is created, no script runs', async () => {
    const texts = await browser.frameTexts('factory-transcript .entry.text');
    assert.ok(
      texts.some((t) => t.includes(`<script>window.__pwned = 1</script><img src=x onerror="alert('xss')">`)),
      `the hostile message as text in ${JSON.stringify(texts)}`,
    );
    assert.deepEqual(await browser.frameEval('factory-transcript img', 'outerHTML'), [], 'no <img> element in the panel');
    assert.deepEqual(await browser.frameEval('factory-transcript script', 'outerHTML'), [], 'no <script> element in the panel');
    assert.deepEqual(await browser.frameEval('[onerror]', 'outerHTML'), [], 'no element with an onerror attribute anywhere');
    assert.deepEqual(await browser.dialogs(), [], 'no dialog was opened');
  });

  it('opens the diff of an edited file: its content at the attempt start tree against the working file', async () => {
    await browser.frameClick('factory-transcript .entry.file button.link');
    const tab = await eventually(() => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab;
      return active?.input instanceof vscode.TabInputTextDiff ? active.input : undefined;
    }, 'a diff editor');
    assert.equal(tab.original.scheme, 'factory-tree');
    assert.equal(tab.modified.fsPath, readme);
    const before = await vscode.workspace.openTextDocument(tab.original);
    assert.equal(before.getText(), ORIGINAL_README);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('opens a finished attempt\'s own diff — its start tree against its end tree — not what the file is today', async () => {
    const workspace = config.workspace;
    const finishedId = ulid();
    const git = (args: string[], env: NodeJS.ProcessEnv = process.env) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8', env }).trim();
    const startTree = git(['rev-parse', 'HEAD^{tree}']);
    // The tree the attempt ended at: the README as this attempt left it (a private index, the user's untouched).
    const index = join(workspace, '..', `index-${finishedId}`);
    writeFileSync(readme, `${ORIGINAL_README}\nWritten by attempt two.\n`);
    const env = { ...process.env, GIT_INDEX_FILE: index };
    git(['read-tree', 'HEAD'], env);
    git(['add', 'README.md'], env);
    const endTree = git(['write-tree'], env);
    const lines = readFileSync(join(config.repo, 'test', 'fixtures', 'agents', 'claude-code', 'success.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((line) => JSON.stringify({ stream: 'stdout', line: line.replaceAll('/workspace/project/hello.txt', readme).replaceAll('/workspace/project', workspace) }));
    const ref = await new FileEvidenceStore(workspace).put(`${lines.join('\n')}\n`, { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
    const store = new FileRecordStore(workspace);
    await store.append(changeId, { type: 'attempt.started', by: { name: 'Dana Developer' }, data: { stageId: 'plan', attemptId: finishedId, backend: 'claude-code', number: 2, start: { tree: startTree } } });
    await store.append(changeId, { type: 'attempt.finished', by: { name: 'Dana Developer' }, data: { stageId: 'plan', attemptId: finishedId, outcome: 'succeeded', durationMs: 10, end: { tree: endTree }, transcript: ref } });
    // A later attempt (or a person) edits the file again: the link must not show that.
    writeFileSync(readme, `${ORIGINAL_README}\nEdited later by someone else.\n`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('factory.showTranscript', { changeId, attemptId: finishedId });
    await eventually(async () => (await browser.frameTexts('factory-transcript .entry.file')).length > 0, 'the file entry of attempt two');
    await browser.frameClick('factory-transcript .entry.file button.link');
    const tab = await eventually(() => {
      const active = vscode.window.tabGroups.activeTabGroup.activeTab;
      return active?.input instanceof vscode.TabInputTextDiff ? active.input : undefined;
    }, 'the attempt diff');
    assert.equal(tab.original.scheme, 'factory-tree');
    assert.equal(tab.modified.scheme, 'factory-tree', 'the right side is the end tree, not the working file');
    assert.equal((await vscode.workspace.openTextDocument(tab.original)).getText(), ORIGINAL_README);
    assert.equal((await vscode.workspace.openTextDocument(tab.modified)).getText(), `${ORIGINAL_README}\nWritten by attempt two.\n`);
    await browser.screenshot('transcript-attempt-diff');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    writeFileSync(readme, `${ORIGINAL_README}\nEdited by the agent.\n`);
  });

  it('shows the same transcript after the panel is hidden and shown again', async () => {
    await vscode.commands.executeCommand('workbench.action.files.newUntitledFile');
    await eventually(async () => (await browser.frameTexts('factory-transcript .entry.text')).length === 0, 'the panel to be hidden');
    await vscode.commands.executeCommand('factory.showTranscript', { changeId, attemptId });
    await eventually(async () => (await browser.frameTexts('factory-transcript .entry.text')).some((t) => t.includes('Done: I read README.md')), 'the panel content after showing it again');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
