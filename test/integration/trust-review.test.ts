// The review in Restricted Mode (the folder starts untrusted): the panel shows the
// record (steps, timeline, prompts, transcripts) read-only; Keep / Reject a hunk,
// Approve and a comment are refused with the engine's sentence; no git runs, and
// nothing is written to .factory/ (every file of it hashed before and after).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { FactoryEvent } from '../../src/core/events';
import { parseUnifiedDiff } from '../../src/core/reviewHunks';
import { FileRecordStore } from '../../src/store/recordStore';
import { FileEvidenceStore } from '../../src/store/evidence';
import type { ReviewHistory } from '../support/reviewHistory';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

/** Every file under `dir` with the sha256 of its bytes, sorted: equal listings mean nothing was written. */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile())
    .map((e) => `${join(e.parentPath, e.name).slice(dir.length)} ${createHash('sha256').update(readFileSync(join(e.parentPath, e.name))).digest('hex')}`)
    .sort();
}

async function notificationSaying(text: string): Promise<string> {
  await vscode.commands.executeCommand('notifications.showList');
  const found = await eventually(async () => (await browser.texts('.notifications-center .notification-list-item')).find((t) => t.includes(text)), `a notification saying "${text}"`, 30_000);
  await vscode.commands.executeCommand('notifications.hideList');
  return found;
}

describe('Review in an untrusted workspace', function () {
  this.timeout(180_000);
  const config = runConfig();
  let history: ReviewHistory;

  before(async function () {
    this.timeout(120_000);
    // Written by the product's own stores in a Node of its own, as the review suite does; the window itself runs no git.
    history = JSON.parse(execFileSync('node', ['--import', 'tsx', join(config.repo, 'test', 'support', 'reviewHistory.ts'), config.workspace], { cwd: config.repo, encoding: 'utf8' })) as ReviewHistory;
    const api = await cockpitApi();
    await api.refresh();
    await snapshotWhere(api, (s) => s.changes.some((c) => c.id === history.changeId), 'the generated change read', 30_000);
  });

  it('opens the review read-only; Keep / Reject, Approve and comments are refused with the engine’s sentence; nothing is written', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite starts untrusted');
    const factoryDir = join(config.workspace, '.factory');
    const before = listing(factoryDir);
    const auth = readFileSync(join(config.workspace, 'src', 'auth.js'), 'utf8');

    await vscode.commands.executeCommand('factory.reviewChange', { changeId: history.changeId, stepId: `attempt:${history.attempts.implement2}` });
    await eventually(async () => (await browser.frameTexts('factory-review #rv-step-heading'))[0] === 'Implement — attempt 2 (retry)', 'the attempt step', 60_000);
    const head = (await browser.frameTexts('factory-review .rv-head')).join('\n');
    assert.match(head, /This workspace is not trusted: the record is shown/);
    // The record is shown: the prompt and the transcript of the attempt, read without git.
    await eventually(async () => (await browser.frameTexts('factory-review main.rv-step')).some((t) => t.includes('Prompt') && t.includes('Diffs and hunk actions need a trusted workspace')), 'the step with its trust notice', 30_000);
    await eventually(async () => (await browser.frameTexts('factory-review factory-review-transcript .entry')).length > 0, 'the transcript replayed', 30_000);
    assert.deepEqual(await browser.frameEval('factory-review vscode-button[data-action="approve-change"]', 'disabled'), [true], 'Approve Change is disabled');
    assert.deepEqual(await browser.frameTexts('factory-review vscode-textarea[data-test="comment"]'), [], 'no comment box');
    assert.deepEqual(await browser.frameTexts('factory-review .rv-hunk'), [], 'no hunk actions: the diff is not read');
    await browser.screenshot('review-untrusted');

    // Keep and Reject by command (the CodeLens and cursor paths call the same): the engine refuses before any git or file change.
    const finished = (await new FileRecordStore(config.workspace).readChange(history.changeId)).events.find(
      (e): e is FactoryEvent & { data: { diff: { sha256: string } } } => e.type === 'attempt.finished' && e.data.attemptId === history.attempts.implement2,
    )!;
    // Evidence is stored gzip-compressed: read through the store (which only reads), not from its file.
    const patch = (await new FileEvidenceStore(config.workspace).read(finished.data.diff)).toString('utf8');
    const hunk = parseUnifiedDiff(patch)[0]!.hunks[0]!;
    const target = { changeId: history.changeId, attemptId: history.attempts.implement2, path: 'src/auth.js', hunk: hunk.id };
    assert.equal(await vscode.commands.executeCommand('factory.review.rejectHunk', target), undefined);
    await notificationSaying('This workspace is not trusted: Factory Cockpit does not change files or run git here.');
    assert.equal(await vscode.commands.executeCommand('factory.review.acceptHunk', target), undefined);
    await vscode.commands.executeCommand('factory.approveStage', { changeId: history.changeId, stageId: 'test' });
    await notificationSaying('This workspace is not trusted: decisions are recorded once the folder is trusted');
    const end = vscode.Uri.from({ scheme: 'factory-tree', path: '/src/auth.js', query: (finished.data as { end: { tree: string } }).end.tree });
    await vscode.commands.executeCommand('factory.review.addComment', { text: 'Not recorded.', thread: { uri: end, range: new vscode.Range(1, 0, 1, 0), dispose: () => undefined } });
    await notificationSaying('comments are recorded once the folder is trusted');

    // A moment for anything that would write late, then: the record and the working file as they were.
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(listing(factoryDir), before, 'nothing was written to .factory/');
    assert.equal(readFileSync(join(config.workspace, 'src', 'auth.js'), 'utf8'), auth, 'the working file is untouched');
  });
});
