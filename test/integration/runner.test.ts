// Runs that outlive the window, in a real VS Code: a stage run started from the editor
// goes to a detached runner; the window reloads and its old extension host is killed
// (a reloaded page can keep it alive for a while, which would pass for the wrong
// reason); the new window re-attaches and a runner pid that is neither extension host
// finishes the attempt. A run started from the CLI in a terminal shows live in the
// Stages view. The suite runs in two phases across the reload: the test module runs
// again in the new extension host and reads what the first phase left in a file.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { RunnerRegistry } from '../../src/engine/detachedRun';
import { browser, driver, eventually, runConfig } from './support/driver';
import { EXTENSION_ID, cockpitApi, snapshotWhere } from './support/cockpit';

const config = runConfig();
const runDir = dirname(config.resultsFile);
const phaseFile = join(runDir, 'runner-phase.json');
const agent = join(config.repo, 'test', 'unit', 'cli', 'fixtures', 'slow-agent.mjs');
const cli = join(config.repo, 'dist', 'cli.js');
const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';

interface Phase {
  changeId: string;
  runnerPid: number;
  hostPid: number;
  attemptId: string;
  go: string;
  say: string;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function agentEnv(tag: string) {
  const files = { SLOW_AGENT_PIDS: join(runDir, `${tag}-pids.json`), SLOW_AGENT_GO: join(runDir, `${tag}-go`), SLOW_AGENT_SAY: join(runDir, `${tag}-say`), SLOW_AGENT_OUTPUT: join(config.workspace, `${tag}.txt`) };
  // The runner starts with this extension host's environment.
  Object.assign(process.env, files);
  return files;
}

function startedBy(changeId: string, attemptId: string): number | undefined {
  const dir = join(config.workspace, '.factory', 'changes', changeId, 'events');
  for (const name of readdirSync(dir)) {
    const event = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { type: string; data: { attemptId?: string; runner?: { pid: number } } };
    if (event.type === 'attempt.started' && event.data.attemptId === attemptId) return event.data.runner?.pid;
  }
  return undefined;
}

describe('Runs that outlive the window (detached runner)', function () {
  this.timeout(300_000);

  if (!existsSync(phaseFile)) {
    it('phase 1: starts a run from the editor in a detached runner, then reloads the window and kills its extension host', async () => {
      const api = await cockpitApi();
      writeFileSync(
        join(config.workspace, '.factory', 'pipeline.json'),
        JSON.stringify({ version: 1, stages: [{ id: 'build', title: 'Build', owner: { backend: 'command' }, autonomy: 'approve', retry: { maxAttempts: 1 } }, { id: 'ship', title: 'Ship', owner: { backend: 'human', person: 'lead' } }] }, null, 2),
      );
      await vscode.workspace.getConfiguration().update('factory.backends.command.argv', [process.execPath, agent], vscode.ConfigurationTarget.Global);
      const files = agentEnv('editor');
      const changeId = await vscode.commands.executeCommand<string>('factory.startChange', { title: 'Outlives the window', branch: 'none' });
      assert.ok(changeId);
      await snapshotWhere(api, (s) => s.current?.id === changeId, 'the new change');
      void vscode.commands.executeCommand('factory.runStage', { changeId, stageId: 'build' });
      const registry = new RunnerRegistry(config.workspace);
      const record = await eventually(() => {
        const live = registry.live(changeId);
        return live?.attemptId ? live : undefined;
      }, 'a detached runner with its attempt', 60_000);
      assert.notEqual(record.pid, process.pid, 'the attempt is not run by the extension host');
      assert.equal(record.startedBy, 'editor');
      await snapshotWhere(api, (s) => s.current?.stages[0]?.status === 'running', 'Build running in the Stages view', 30_000);
      await eventually(() => readFileSync(record.events, 'utf8').includes('working on it'), 'the runner to stream the transcript');
      writeFileSync(phaseFile, JSON.stringify({ changeId, runnerPid: record.pid, hostPid: process.pid, attemptId: record.attemptId!, go: files.SLOW_AGENT_GO, say: files.SLOW_AGENT_SAY } satisfies Phase));
      // This host is killed on purpose: what other extensions throw while it dies (a
      // language server's "Channel has been closed") is not this test's result.
      process.removeAllListeners('uncaughtException');
      process.removeAllListeners('unhandledRejection');
      process.on('uncaughtException', () => undefined);
      process.on('unhandledRejection', () => undefined);
      await driver('reloadWindow', { killPid: process.pid });
      // This extension host is killed now; the test module runs again in the new one (phase 2).
      await new Promise(() => undefined);
    });
    return;
  }

  const phase = JSON.parse(readFileSync(phaseFile, 'utf8')) as Phase;

  it('a run started from the editor continues across a window reload, the view re-attaches, and the runner finishes it', async () => {
    assert.notEqual(process.pid, phase.hostPid, 'a new extension host runs the tests');
    assert.ok(!alive(phase.hostPid), 'the old extension host was killed');
    assert.ok(alive(phase.runnerPid), 'the runner outlived it');
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.current?.id === phase.changeId && s.current.stages[0]?.status === 'running', 'the running stage after the reload', 30_000);
    await eventually(() => api.detachedRuns?.().some((r) => r.pid === phase.runnerPid), 'the window to re-attach to the runner', 30_000);
    await vscode.commands.executeCommand('factory.showStages');
    await eventually(async () => (await browser.attributes(SIDEBAR_ROWS, 'aria-label')).some((l) => /Build, running/.test(l ?? '')), 'the Build row shown running');

    // The transcript panel of the running attempt: what the agent wrote before the reload
    // (replayed from the runner's events file), then what it writes after it.
    await vscode.commands.executeCommand('factory.showTranscript', { changeId: phase.changeId, attemptId: phase.attemptId });
    const panelText = async () => (await browser.frameTexts('factory-transcript .entry.text')).join('\n');
    await eventually(async () => (await panelText()).includes('working on it (1)'), 'the lines from before the reload in the transcript panel', 30_000);
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
    assert.ok(tabs.includes('Transcript: Build #1'), `the live panel of the attempt in ${JSON.stringify(tabs)}`);
    const afterReload = `said after the reload by pid ${phase.runnerPid}'s agent, seen by host ${process.pid}`;
    assert.ok(!(await panelText()).includes(afterReload));
    writeFileSync(phase.say, `${afterReload}\n`);
    await eventually(async () => (await panelText()).includes(afterReload), 'the line the agent wrote after the reload in the transcript panel', 30_000);
    await browser.screenshot('runner-transcript-after-reload');

    writeFileSync(phase.go, '');
    const done = await snapshotWhere(api, (s) => s.current?.stages[0]?.status === 'needsApproval', 'the runner to finish Build', 60_000);
    const attempt = done.current!.stages[0]!.attempts.find((a) => a.id === phase.attemptId)!;
    assert.equal(attempt.outcome, 'succeeded');
    const runner = startedBy(phase.changeId, phase.attemptId);
    assert.equal(runner, phase.runnerPid, 'the attempt was run by the runner');
    assert.ok(runner !== process.pid && runner !== phase.hostPid, 'by neither extension host');
    await eventually(() => !alive(phase.runnerPid), 'the runner to end by itself', 30_000);
    await browser.screenshot('runner-reattached');
  });

  it('a run started from the CLI in a terminal shows live in the Stages view', async () => {
    const api = await cockpitApi();
    const files = agentEnv('terminal');
    // The CLI reads no editor settings: its agent comes from the environment (or --set, or the user config).
    const env = { ...process.env, ...files, FACTORY_BACKENDS_COMMAND_ARGV: JSON.stringify([process.execPath, agent]) };
    const node = process.execPath;
    const start = spawnSync(node, [cli, 'change', 'start', 'Started in a terminal', '--branch', 'none', '--json'], { cwd: config.workspace, env, encoding: 'utf8' });
    assert.equal(start.status, 0, start.stderr);
    const changeId = (JSON.parse(start.stdout) as { change: { id: string } }).change.id;
    const run = spawnSync(node, [cli, 'run', 'build', '--detach', '--json'], { cwd: config.workspace, env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const runnerPid = (JSON.parse(run.stdout) as { runner: { pid: number } }).runner.pid;
    await snapshotWhere(api, (s) => s.current?.id === changeId && s.current.stages[0]?.status === 'running', 'the terminal run in the cockpit', 30_000).catch(async (error: unknown) => {
      const s = api.snapshot();
      const fresh = await api.refresh();
      throw new Error(`${String(error)}; shown: ${s.current?.id} ${s.current?.stages[0]?.status}; after a refresh: ${fresh.current?.id} ${fresh.current?.stages[0]?.status}; runners ${JSON.stringify(api.detachedRuns?.())}`);
    });
    await eventually(() => api.detachedRuns?.().some((r) => r.pid === runnerPid), 'the window to attach to the terminal runner', 30_000);
    await eventually(async () => (await browser.attributes(SIDEBAR_ROWS, 'aria-label')).some((l) => /Build, running/.test(l ?? '')), 'the Build row shown running');
    writeFileSync(files.SLOW_AGENT_GO, '');
    await snapshotWhere(api, (s) => s.current?.id === changeId && s.current.stages[0]?.status === 'needsApproval', 'the terminal run to finish', 60_000);
    await eventually(() => !alive(runnerPid), 'the terminal runner to end', 30_000);
    // The CLI reads the same record.
    const status = JSON.parse(execFileSync(node, [cli, 'status', '--json'], { cwd: config.workspace, env, encoding: 'utf8' })) as { change: { id: string; stages: { id: string; status: string }[] } };
    assert.equal(status.change.id, changeId);
    assert.equal(status.change.stages[0]!.status, 'needsApproval');
  });

  it("a terminal opened in the window runs factory-cockpit from PATH, and Show Runner Log opens the runners' log", async () => {
    const out = join(runDir, 'terminal-version.txt');
    const version = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { version: string }).version;
    const terminal = vscode.window.createTerminal({ name: 'factory-cockpit PATH', cwd: config.workspace });
    try {
      terminal.sendText(`factory-cockpit --version > '${out}.tmp' 2>&1; mv '${out}.tmp' '${out}'`);
      const printed = await eventually(() => (existsSync(out) ? readFileSync(out, 'utf8') : undefined), 'the terminal to run factory-cockpit --version', 60_000);
      assert.equal(printed.trim(), version, 'the launcher on the terminal PATH runs this installation');
    } finally {
      terminal.dispose();
    }

    const log = new RunnerRegistry(config.workspace).logFile;
    assert.ok(existsSync(log), 'the runners of the tests above wrote their log');
    await vscode.commands.executeCommand('factory.showRunnerLog');
    const editor = await eventually(() => (vscode.window.activeTextEditor?.document.uri.fsPath === log ? vscode.window.activeTextEditor : undefined), 'the runner log in an editor');
    assert.match(editor.document.getText(), /runner started by the editor/);
    assert.match(editor.document.getText(), /runner started by the cli/);
  });
});
