// A change with a history worth reviewing, written through the product's own stores
// on a real git repository: several stages, a failed attempt and its retry, a failed
// then fixed verification with a JUnit report, a screenshot, a rollback, a stage
// waiting for approval, the context pack handed forward (and once not), real start
// and end trees for every attempt (so diffs and hunk decisions work on git objects),
// and a second change that lives only on another branch, committed by someone else
// than the actor its events name.
//
// Used by the unit tests (test/unit/review), the host test (test/integration/review.test.ts)
// and the benchmark (bench/review.ts). Usage: npx tsx test/support/reviewHistory.ts <dir>
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import { createFactory, type Factory } from '../../src/engine/factory';
import { GitAdapter } from '../../src/git/gitAdapter';
import { FileRecordStore } from '../../src/store/recordStore';
import type { EvidenceRef } from '../../src/core/events';

export const SCREENSHOT_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAADAAAAAgCAIAAADbtmxLAAAAN0lEQVR4nO3OQQ0AMAgEMJSgE4mTNRccjyYV0Op5p1R8ICQkJJQeCAkJCaUHQkJCQumBkJDQsg+xOTR5rVqVQAAAAABJRU5ErkJggg==',
  'base64',
);

export interface ReviewHistory {
  dir: string;
  changeId: string;
  title: string;
  /** attempt ids by name. */
  attempts: { plan: string; implement1: string; implement2: string; test1: string; test2: string };
  /** The change that only the other branch holds. */
  otherBranch: { ref: string; changeId: string; title: string; committer: string; actor: string };
  /** The file the implement retry edited in two hunks. */
  editedFile: string;
  transcriptSha: string;
  screenshotSha: string;
  junitSha: string;
}

const AUTH_V0 = ['export function login(user, password) {', '  return user === "admin" && password === "secret";', '}', '', 'export function isAdmin(user) {', '  return user === "admin";', '}', '', 'export function canEdit(user) {', '  return isAdmin(user);', '}', '', 'export function logout(session) {', '  session.user = undefined;', '}', '', 'export function greet(user) {', '  return `Hello, ${user}`;', '}', ''].join('\n');

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A claude-code stream-json transcript as the engine stores it ({stream, line} JSONL). */
export function claudeTranscript(dir: string, steps: { text?: string; read?: string; edit?: { path: string; old: string; new: string }; bash?: { command: string; output: string } }[], extra = ''): string {
  const lines: string[] = [JSON.stringify({ stream: 'meta', line: '$ claude -p --output-format stream-json --verbose' })];
  const out = (value: unknown) => lines.push(JSON.stringify({ stream: 'stdout', line: JSON.stringify(value) }));
  out({ type: 'system', subtype: 'init', cwd: dir, session_id: 's-1', model: 'claude-sonnet-4-5', tools: ['Read', 'Edit', 'Bash'] });
  let n = 0;
  for (const step of steps) {
    n++;
    const message = (content: unknown[]) => out({ type: 'assistant', message: { id: `msg_${n}`, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content, usage: { input_tokens: 100, output_tokens: 20 } } });
    if (step.text) message([{ type: 'text', text: step.text }]);
    const tool = step.read ? { name: 'Read', input: { file_path: join(dir, step.read) }, result: `1\t(contents of ${step.read})` } : step.edit ? { name: 'Edit', input: { file_path: join(dir, step.edit.path), old_string: step.edit.old, new_string: step.edit.new }, result: 'The file has been updated.' } : step.bash ? { name: 'Bash', input: { command: step.bash.command }, result: step.bash.output } : undefined;
    if (tool) {
      message([{ type: 'tool_use', id: `toolu_${n}`, name: tool.name, input: tool.input }]);
      out({ type: 'user', message: { role: 'user', content: [{ tool_use_id: `toolu_${n}`, type: 'tool_result', content: tool.result }] } });
    }
  }
  out({ type: 'result', subtype: 'success', is_error: false, duration_ms: 4000, num_turns: steps.length, result: 'Done.', total_cost_usd: 0.0123, usage: { input_tokens: 100 * steps.length, output_tokens: 20 * steps.length } });
  return lines.join('\n') + '\n' + extra;
}

function junit(failures: number): string {
  const cases = [
    '<testcase classname="auth" name="logs in the admin" time="0.01"/>',
    failures ? '<testcase classname="auth" name="rejects a wrong password" time="0.01"><failure message="expected false, got true">AssertionError: expected false, got true</failure></testcase>' : '<testcase classname="auth" name="rejects a wrong password" time="0.01"/>',
    '<testcase classname="auth" name="logs out" time="0.01"/>',
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="auth" tests="3" failures="${failures}" errors="0" skipped="0">${cases.join('')}</testsuite></testsuites>\n`;
}

/** Adds the review history to a repository that may already have a record (the sample workspace), or makes one. */
export async function makeReviewHistory(target: string, options: { transcriptExtra?: string; otherBranch?: boolean } = {}): Promise<ReviewHistory> {
  const dir = resolve(target);
  if (!existsSync(join(dir, '.git'))) {
    mkdirSync(join(dir, 'src'), { recursive: true });
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'config', 'user.name', 'Dana Developer');
    git(dir, 'config', 'user.email', 'dana@example.com');
    git(dir, 'config', 'commit.gpgsign', 'false');
    writeFileSync(join(dir, 'README.md'), '# Sample app\n');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'Sample app');
  }
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'auth.js'), AUTH_V0);
  git(dir, 'add', 'src/auth.js');
  git(dir, 'commit', '-q', '-m', 'auth module');

  let clock = Date.now() - 6 * 3600_000;
  const tick = (minutes: number) => (clock += minutes * 60_000);
  const factory: Factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true }, clock: { now: () => new Date(clock) } });
  const store = factory.store;
  const evidence = factory.evidence;
  const gitAdapter = new GitAdapter(dir);
  await store.loadPipeline({ createIfMissing: true });
  const dana = { name: 'Dana Developer', email: 'dana@example.com' };
  const rita = { name: 'Rita Reviewer', email: 'rita@example.com' };
  const title = 'Harden login';
  const changeId = store.newChangeId(title);
  await store.append(changeId, { type: 'change.created', by: dana, data: { title, ticket: 'APP-77', description: 'Reject wrong passwords; log out cleanly.', branch: 'main' } });
  await factory.context.addTicket(changeId, { text: 'APP-77: wrong passwords must be rejected with a clear message.' });
  const v1 = (await factory.context.load(changeId)).version;

  const attemptRun = async (input: { stageId: string; backend: string; model?: string; number: number; trigger?: string; contextVersion?: string; prompt: string; edit?: () => void; transcript: string; outcome: 'succeeded' | 'failed'; reason?: string; filesRead?: string[]; cost: number; minutes: number }) => {
    const attemptId = ulid(clock);
    const start = await gitAdapter.snapshot();
    await store.append(changeId, {
      type: 'attempt.started',
      by: dana,
      data: { stageId: input.stageId, attemptId, backend: input.backend, ...(input.model ? { model: input.model } : {}), prompt: input.prompt, ...(input.contextVersion ? { contextVersion: input.contextVersion } : {}), number: input.number, trigger: input.trigger ?? 'run', start: { ...(start.commit ? { commit: start.commit } : {}), tree: start.tree } },
    });
    tick(input.minutes);
    input.edit?.();
    const end = await gitAdapter.snapshot();
    const diff = end.tree !== start.tree ? await gitAdapter.diffTrees(start.tree, end.tree) : undefined;
    const transcript = await evidence.put(input.transcript, { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
    const diffRef = diff?.patch ? await evidence.put(diff.patch, { name: 'attempt.diff', mediaType: 'text/x-diff' }) : undefined;
    await store.append(changeId, {
      type: 'attempt.finished',
      by: dana,
      data: {
        stageId: input.stageId,
        attemptId,
        outcome: input.outcome,
        ...(input.reason ? { reason: input.reason } : {}),
        summary: `${input.stageId} attempt ${input.number} ${input.outcome}`,
        durationMs: input.minutes * 60_000,
        usage: { inputTokens: 4000, outputTokens: 800, costUsd: input.cost, costSource: 'agent', turns: 4 },
        end: { ...(end.commit ? { commit: end.commit } : {}), tree: end.tree },
        transcript,
        ...(diffRef ? { diff: diffRef, changedFiles: diff!.files.map((f) => ({ status: f.status, path: f.path })) } : {}),
        ...(input.filesRead ? { filesRead: input.filesRead } : {}),
      },
    });
    return { attemptId, start, end, transcript };
  };
  const verify = async (stageId: string, attemptId: string, criterionId: string, outcome: 'passed' | 'failed', extra: { evidence?: EvidenceRef[]; totals?: unknown; message?: string; command?: unknown; kind?: string } = {}) => {
    const tree = await gitAdapter.snapshot();
    await store.append(changeId, {
      type: 'verification.recorded',
      by: dana,
      data: { stageId, attemptId, criterionId, outcome, required: true, durationMs: 2100, evidence: extra.evidence ?? [], verified: { ...(tree.commit ? { commit: tree.commit } : {}), tree: tree.tree }, ...(extra.kind ? { kind: extra.kind } : {}), ...(extra.totals ? { totals: extra.totals } : {}), ...(extra.message ? { message: extra.message } : {}), ...(extra.command ? { command: extra.command } : {}) },
    });
  };
  const handoff = async (fromStage: string, toStage: string, attemptId: string, summary: string) => {
    const pack = await factory.context.addNote(changeId, { text: summary, title: `${fromStage} output`, stageId: fromStage });
    const at = await gitAdapter.snapshot();
    await store.append(changeId, { type: 'handoff.recorded', by: dana, data: { fromStage, toStage, attemptId, contextVersion: pack.pack.version, summary, outputs: [], at: { ...(at.commit ? { commit: at.commit } : {}), tree: at.tree } } });
    return pack.pack.version;
  };

  // Plan: one attempt, approved, handed off.
  tick(3);
  const planTranscript = claudeTranscript(dir, [{ text: 'I will read the auth module first.' }, { read: 'src/auth.js' }, { text: 'Plan written to PLAN.md.' }], options.transcriptExtra ?? '');
  const plan = await attemptRun({
    stageId: 'plan',
    backend: 'claude-code',
    model: 'claude-sonnet-4-5',
    number: 1,
    contextVersion: v1,
    prompt: 'Write PLAN.md: a short plan for "Harden login".\n\n<context>APP-77</context>',
    edit: () => writeFileSync(join(dir, 'PLAN.md'), '# Plan\n\n1. Reject wrong passwords.\n2. Clear the session on logout.\n'),
    transcript: planTranscript,
    outcome: 'succeeded',
    filesRead: ['src/auth.js'],
    cost: 0.04,
    minutes: 3,
  });
  await verify('plan', plan.attemptId, 'plan-written', 'passed', { kind: 'fileExists' });
  await store.append(changeId, { type: 'stage.approvalRequested', by: dana, data: { stageId: 'plan', attemptId: plan.attemptId } });
  tick(5);
  await store.append(changeId, { type: 'review.decided', by: rita, data: { stageId: 'plan', decision: 'approved', note: 'Good plan.', at: { tree: plan.end.tree } } });
  const v2 = await handoff('plan', 'implement', plan.attemptId, 'Plan: reject wrong passwords, clear the session.');

  // Implement: a failed attempt (tests fail), then a retry that edits two separate places.
  tick(10);
  const implement1 = await attemptRun({
    stageId: 'implement',
    backend: 'codex',
    model: 'gpt-5-codex',
    number: 1,
    contextVersion: v2,
    prompt: 'Implement PLAN.md.',
    edit: () => writeFileSync(join(dir, 'src', 'auth.js'), AUTH_V0.replace('password === "secret"', 'password.length > 0')),
    transcript: claudeTranscript(dir, [{ text: 'Loosening the check.' }, { edit: { path: 'src/auth.js', old: 'password === "secret"', new: 'password.length > 0' } }]),
    outcome: 'failed',
    reason: 'unit-tests failed: 1 of 3 tests failed',
    cost: 0.11,
    minutes: 6,
  });
  const junitFailed = await evidence.put(junit(1), { name: 'junit.xml', mediaType: 'application/xml' });
  await verify('implement', implement1.attemptId, 'unit-tests', 'failed', { kind: 'testReport', evidence: [junitFailed], totals: { tests: 3, passed: 2, failures: 1, errors: 0, skipped: 0, todo: 0 }, message: 'auth › rejects a wrong password: expected false, got true', command: { argv: ['npm', 'test'], cwd: '', exitCode: 1, signal: null, timedOut: false, cancelled: false, durationMs: 2100 } });
  tick(2);
  const implemented = AUTH_V0.replace('password === "secret"', 'password === "secret" && user.length > 0').replace('session.user = undefined;', 'session.user = undefined;\n  session.token = undefined;');
  const implement2 = await attemptRun({
    stageId: 'implement',
    backend: 'codex',
    model: 'gpt-5-codex',
    number: 2,
    trigger: 'retry',
    contextVersion: v2,
    prompt: 'Implement PLAN.md.\n\nThe last attempt failed: unit-tests failed: 1 of 3 tests failed',
    edit: () => writeFileSync(join(dir, 'src', 'auth.js'), implemented),
    transcript: claudeTranscript(dir, [{ text: 'Restoring the strict check and clearing the token.' }, { edit: { path: 'src/auth.js', old: 'password.length > 0', new: 'password === "secret" && user.length > 0' } }, { bash: { command: 'npm test', output: '3 passing' } }]),
    outcome: 'succeeded',
    filesRead: ['src/auth.js', 'PLAN.md'],
    cost: 0.09,
    minutes: 5,
  });
  const junitPassed = await evidence.put(junit(0), { name: 'junit.xml', mediaType: 'application/xml' });
  const log = await evidence.put('$ npm test\n\n  3 passing (12ms)\n', { name: 'npm-test.log', mediaType: 'text/plain' });
  await verify('implement', implement2.attemptId, 'unit-tests', 'passed', { kind: 'testReport', evidence: [junitPassed, log], totals: { tests: 3, passed: 3, failures: 0, errors: 0, skipped: 0, todo: 0 }, command: { argv: ['npm', 'test'], cwd: '', exitCode: 0, signal: null, timedOut: false, cancelled: false, durationMs: 2100 } });
  const v3 = await handoff('implement', 'test', implement2.attemptId, 'Implemented: strict password check, token cleared on logout.');

  // Test: an attempt rolled back, then one that started without the handoff's pack, with a screenshot; waits for approval.
  tick(8);
  const test1 = await attemptRun({
    stageId: 'test',
    backend: 'claude-code',
    model: 'claude-sonnet-4-5',
    number: 1,
    contextVersion: v3,
    prompt: 'Write tests for the change.',
    edit: () => writeFileSync(join(dir, 'src', 'auth.test.js'), 'throw new Error("wrong test");\n'),
    transcript: claudeTranscript(dir, [{ text: 'Adding a test file.' }]),
    outcome: 'succeeded',
    cost: 0.03,
    minutes: 2,
  });
  rmSync(join(dir, 'src', 'auth.test.js'));
  await store.append(changeId, { type: 'attempt.rolledBack', by: dana, data: { stageId: 'test', attemptId: test1.attemptId, files: [{ path: 'src/auth.test.js', action: 'remove' }] } });
  tick(3);
  const test2 = await attemptRun({
    stageId: 'test',
    backend: 'claude-code',
    model: 'claude-sonnet-4-5',
    number: 2,
    trigger: 'retry',
    prompt: 'Write tests for the change.',
    edit: () => writeFileSync(join(dir, 'src', 'auth.test.js'), 'import { login } from "./auth.js";\nconsole.assert(login("admin", "secret"));\n'),
    transcript: claudeTranscript(dir, [{ text: 'Adding the login test.' }]),
    outcome: 'succeeded',
    cost: 0.05,
    minutes: 4,
  });
  const shot = await evidence.put(SCREENSHOT_PNG, { name: 'login-page.png', mediaType: 'image/png' });
  await verify('test', test2.attemptId, 'login-page', 'passed', { kind: 'screenshot', evidence: [shot] });
  await store.append(changeId, { type: 'stage.approvalRequested', by: dana, data: { stageId: 'test', attemptId: test2.attemptId } });

  // Another branch: a change only it holds, its events committed by someone else than the actor they name.
  const other = { ref: 'refs/heads/feature/teammate', changeId: '', title: 'Teammate change', committer: 'Mallory Committer', actor: 'Rita Reviewer' };
  if (options.otherBranch !== false) {
    const worktree = `${dir}-teammate`;
    git(dir, 'worktree', 'add', '-q', '-b', 'feature/teammate', worktree);
    const otherStore = new FileRecordStore(worktree, { now: () => new Date(clock) });
    await otherStore.loadPipeline({ createIfMissing: true });
    other.changeId = otherStore.newChangeId(other.title);
    await otherStore.append(other.changeId, { type: 'change.created', by: rita, data: { title: other.title, ticket: 'APP-80', branch: 'feature/teammate' } });
    const a = ulid(clock);
    await otherStore.append(other.changeId, { type: 'attempt.started', by: rita, data: { stageId: 'plan', attemptId: a, backend: 'claude-code', model: 'claude-sonnet-4-5', prompt: 'Plan the teammate change.', number: 1 } });
    const t = await otherStore.evidence.put(claudeTranscript(worktree, [{ text: 'Teammate plan.' }]), { name: 'transcript.jsonl' });
    await otherStore.append(other.changeId, { type: 'attempt.finished', by: rita, data: { stageId: 'plan', attemptId: a, outcome: 'succeeded', durationMs: 60_000, transcript: t } });
    git(worktree, 'add', '-f', '.factory');
    execFileSync('git', ['-c', `user.name=${other.committer}`, '-c', 'user.email=mallory@example.com', 'commit', '-q', '-m', 'teammate record'], { cwd: worktree, stdio: 'pipe' });
    git(dir, 'worktree', 'remove', '--force', worktree);
  }
  return {
    dir,
    changeId,
    title,
    attempts: { plan: plan.attemptId, implement1: implement1.attemptId, implement2: implement2.attemptId, test1: test1.attemptId, test2: test2.attemptId },
    otherBranch: other,
    editedFile: 'src/auth.js',
    transcriptSha: plan.transcript.sha256,
    screenshotSha: shot.sha256,
    junitSha: junitFailed.sha256,
  };
}

if (process.argv[1] && /reviewHistory\.ts$/.test(process.argv[1])) {
  const [target] = process.argv.slice(2);
  if (!target) {
    console.error('usage: reviewHistory.ts <dir>');
    process.exit(2);
  }
  makeReviewHistory(target).then(
    (h) => console.log(JSON.stringify(h)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
