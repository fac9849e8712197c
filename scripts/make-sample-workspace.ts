// Generates a sample workspace: a real git repository with a small app and a
// `.factory/` record written by the product's own store, so the demo and the
// integration tests open exactly what a user would have after a few stage runs.
// Usage: npx tsx scripts/make-sample-workspace.ts <dir> [--fresh | --demo]
// --demo (what `npm run demo` opens): the implement and test stages are owned by an
// offline demo agent committed in the sample (tools/demo-agent.mjs, run through the
// command backend with a per-stage argv), which streams a transcript, really edits
// files and makes the sample's tests pass — so Run Next Stage works with nothing
// installed. The real agents are one owner change away (see the README). It also gets a
// team history on teammates' branches (FACTORY_SAMPLE_TEAM_HISTORY below), so the Flow
// Dashboard a newcomer opens is alive.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import { FileRecordStore } from '../src/store/recordStore';

/** The team history the demo's workspace gets: changes x weeks, a few months of a small team. */
export const DEMO_TEAM_HISTORY = '80x12';

export interface SampleWorkspace {
  dir: string;
  mainChangeId: string;
  otherChangeId: string;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A small app in a git repository, committed, with no `.factory/` yet: where a new user starts. */
export function makeFreshRepository(target: string): { dir: string } {
  const dir = resolve(target);
  mkdirSync(join(dir, 'src'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Dana Developer');
  git(dir, 'config', 'user.email', 'dana@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
  writeFileSync(join(dir, 'README.md'), '# Sample app\n\nA tiny app the Factory Cockpit demo works on.\n');
  writeFileSync(join(dir, 'src', 'auth.js'), 'export function login(user, password) {\n  return user === "admin" && password === "secret";\n}\n');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sample-app', version: '1.0.0', type: 'module', scripts: { test: 'node --test' } }, null, 2) + '\n');
  writeFileSync(join(dir, 'AGENTS.md'), '# Conventions\n\n- Small functions, tests beside the code.\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'Sample app');
  return { dir };
}

export async function makeSampleWorkspace(target: string, options: { demo?: boolean } = {}): Promise<SampleWorkspace> {
  const { dir } = makeFreshRepository(target);
  if (options.demo) addDemoAgent(dir);

  // A fixed, readable timeline: the record is written through the real store.
  // Relative to now, so the demo's running attempt reads "running 36m", not days.
  let clock = Date.now() - 55 * 60_000;
  const tick = (minutes: number) => {
    clock += minutes * 60_000;
    return new Date(clock);
  };
  const store = new FileRecordStore(dir, { now: () => new Date(clock) });
  await store.loadPipeline({ createIfMissing: true });
  if (options.demo) useDemoAgentInPipeline(store.pipelinePath);
  const by = { name: 'Dana Developer', email: 'dana@example.com' };
  const attemptId = () => ulid(clock);

  const mainChangeId = store.newChangeId('Add password reset');
  await store.append(mainChangeId, { type: 'change.created', by, data: { title: 'Add password reset', ticket: 'APP-42', description: 'Users can reset a forgotten password by email.', branch: 'main' } });
  tick(2);
  const plan = attemptId();
  await store.append(mainChangeId, { type: 'attempt.started', by, data: { stageId: 'plan', attemptId: plan, backend: 'claude-code', model: 'claude-sonnet', prompt: 'Write PLAN.md: a short plan for "Add password reset".' } });
  tick(3);
  await store.append(mainChangeId, { type: 'attempt.finished', by, data: { stageId: 'plan', attemptId: plan, outcome: 'succeeded', summary: 'Plan: token table, email sender, reset form.', durationMs: 180_000, usage: { inputTokens: 5200, outputTokens: 900, costUsd: 0.04, costSource: 'agent', turns: 3 } } });
  await store.append(mainChangeId, { type: 'verification.recorded', by, data: { stageId: 'plan', criterionId: 'plan-written', attemptId: plan, outcome: 'passed', required: true } });
  tick(1);
  await store.append(mainChangeId, { type: 'review.decided', by, data: { stageId: 'plan', decision: 'approved', note: 'Good plan.' } });
  await store.append(mainChangeId, { type: 'handoff.recorded', by, data: { fromStage: 'plan', toStage: 'implement', attemptId: plan, summary: 'Plan: token table, email sender, reset form.', outputs: ['PLAN.md'] } });
  tick(5);
  const impl1 = attemptId();
  await store.append(mainChangeId, { type: 'attempt.started', by, data: { stageId: 'implement', attemptId: impl1, backend: 'codex', model: 'gpt-5-codex' } });
  tick(6);
  await store.append(mainChangeId, { type: 'attempt.finished', by, data: { stageId: 'implement', attemptId: impl1, outcome: 'failed', reason: 'Agent exited with code 1', durationMs: 360_000 } });
  tick(2);
  const impl2 = attemptId();
  // Running on a teammate's machine (the record came with their branch): only that machine
  // can tell whether it still runs, so every surface here shows it running.
  await store.append(mainChangeId, { type: 'attempt.started', by, data: { stageId: 'implement', attemptId: impl2, backend: 'codex', model: 'gpt-5-codex', runner: { pid: 4242, host: 'dana-laptop' } } });
  if (options.demo) {
    // The demo starts where a newcomer would: the last attempt failed, Run Next Stage retries it with the demo agent.
    tick(1);
    await store.append(mainChangeId, { type: 'attempt.finished', by, data: { stageId: 'implement', attemptId: impl2, outcome: 'failed', reason: 'codex was not found on PATH (this sample hands the stage to the offline demo agent)', durationMs: 60_000 } });
  }

  tick(30);
  const otherChangeId = store.newChangeId('Fix login redirect');
  await store.append(otherChangeId, { type: 'change.created', by, data: { title: 'Fix login redirect', ticket: 'APP-51', branch: 'fix/login-redirect' } });
  git(dir, 'branch', 'fix/login-redirect');
  return { dir, mainChangeId, otherChangeId };
}

/** The offline demo agent and the sample's failing spec it makes pass, committed; the pipeline hands implement and test to it. */
function addDemoAgent(dir: string): void {
  mkdirSync(join(dir, 'tools'), { recursive: true });
  mkdirSync(join(dir, 'test'), { recursive: true });
  writeFileSync(join(dir, 'tools', 'demo-agent.mjs'), DEMO_AGENT);
  writeFileSync(
    join(dir, 'test', 'reset.test.js'),
    `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createResetToken, resetPassword } from '../src/reset.js';

test('a reset token sets a new password once', () => {
  const users = new Map([['ada', { password: 'old' }]]);
  const token = createResetToken(users, 'ada', 0);
  assert.equal(resetPassword(users, token, 'new', 1000), true);
  assert.equal(users.get('ada').password, 'new');
  assert.equal(resetPassword(users, token, 'again', 2000), false);
});
`,
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'Password reset spec and the offline demo agent');
}

/** Rewrites the pipeline so implement and test are done by the demo agent and verified by the sample's tests. */
function useDemoAgentInPipeline(pipelinePath: string): void {
  const pipeline = JSON.parse(readFileSync(pipelinePath, 'utf8')) as { stages: Record<string, unknown>[] };
  const tests = [{ id: 'unit-tests', title: 'npm test (node --test)', kind: 'command', argv: ['node', '--test'], timeoutMs: 120_000 }];
  for (const stage of pipeline.stages) {
    if (stage.id !== 'implement' && stage.id !== 'test') continue;
    stage.owner = { backend: 'command', args: ['node', 'tools/demo-agent.mjs', String(stage.id), '{promptFile}'] };
    stage.verification = tests;
  }
  writeFileSync(pipelinePath, `${JSON.stringify(pipeline, null, 2)}\n`);
}

const DEMO_AGENT = String.raw`#!/usr/bin/env node
// DEMO AGENT — not an AI. An offline stand-in that Factory Cockpit's sample workspace
// gives the implement and test stages, so the demo runs end to end with nothing
// installed: it streams a plausible transcript, really edits files, and runs the tests.
// Run by the "command" backend with the stage's argv from .factory/pipeline.json:
//   node tools/demo-agent.mjs <stage> <promptFile>
// Use a real agent instead: set the stage's owner to "claude-code", "codex", "droid",
// "gemini" or "aider" (Factory: Change Stage Owner, or edit pipeline.json).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const [stage = 'implement', promptFile] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = async (line, ms = 300) => {
  console.log(line);
  await sleep(ms);
};
const prompt = promptFile && existsSync(promptFile) ? readFileSync(promptFile, 'utf8') : '';
await say('[demo agent] ' + stage + ': received a prompt of ' + prompt.length + ' characters (the stage template with the context pack).');

const RESET = [
  "import { randomBytes } from 'node:crypto';",
  '',
  'const TOKEN_TTL_MS = 60 * 60 * 1000;',
  'const tokens = new Map();',
  '',
  '/** A one-time token for the user, valid for an hour from now. */',
  'export function createResetToken(users, user, now = Date.now()) {',
  "  if (!users.has(user)) throw new Error('no user ' + user);",
  "  const token = randomBytes(16).toString('hex');",
  '  tokens.set(token, { user, expires: now + TOKEN_TTL_MS });',
  '  return token;',
  '}',
  '',
  '/** Sets the password if the token is known and fresh; a token works once. */',
  'export function resetPassword(users, token, password, now = Date.now()) {',
  '  const entry = tokens.get(token);',
  '  tokens.delete(token);',
  '  if (!entry || entry.expires < now) return false;',
  '  users.get(entry.user).password = password;',
  '  return true;',
  '}',
  '',
].join('\n');

const EXPIRY_TEST = [
  "import { test } from 'node:test';",
  "import assert from 'node:assert/strict';",
  "import { createResetToken, resetPassword } from '../src/reset.js';",
  '',
  "test('an expired reset token is refused', () => {",
  "  const users = new Map([['ada', { password: 'old' }]]);",
  "  const token = createResetToken(users, 'ada', 0);",
  "  assert.equal(resetPassword(users, token, 'new', 2 * 60 * 60 * 1000), false);",
  "  assert.equal(users.get('ada').password, 'old');",
  '});',
  '',
].join('\n');

if (stage === 'implement') {
  await say('Reading src/auth.js and test/reset.test.js to see what the spec expects…');
  await say('The spec wants createResetToken(users, user, now) and resetPassword(users, token, password, now): one use, expiring.');
  mkdirSync('src', { recursive: true });
  writeFileSync('src/reset.js', RESET);
  await say('Edited src/reset.js: createResetToken, resetPassword (one-time tokens, one hour).');
} else if (stage === 'test') {
  await say('Adding a test for expired tokens…');
  mkdirSync('test', { recursive: true });
  writeFileSync('test/reset-expiry.test.js', EXPIRY_TEST);
  await say('Edited test/reset-expiry.test.js.');
} else {
  await say('Nothing to do for a stage called "' + stage + '".');
}

await say('$ node --test');
const run = spawnSync(process.execPath, ['--test'], { encoding: 'utf8' });
for (const line of (run.stdout + run.stderr).split('\n').filter(Boolean)) await say('  ' + line, 20);
await say(run.status === 0 ? 'All tests pass. Done.' : 'Tests failed (exit ' + run.status + ').');
process.exit(run.status ?? 1);
`;

if (process.argv[1] && /make-sample-workspace\.ts$/.test(process.argv[1])) {
  const [target, flag] = process.argv.slice(2);
  if (!target || (flag !== undefined && flag !== '--fresh' && flag !== '--demo')) {
    console.error('usage: make-sample-workspace.ts <dir> [--fresh | --demo]   (--fresh: the repository only, no record; --demo: stages run by the offline demo agent, and a team history)');
    process.exit(2);
  }
  // FACTORY_SAMPLE_TEAM_HISTORY=<changes>[x<weeks>] (e.g. 80x12): teammates' branches with a
  // realistic history (scripts/sample-history.ts), fetched as team/*, for a living Flow Dashboard.
  // The demo's workspace has one by default (a newcomer's dashboard is not empty); 0 leaves it out.
  const team = /^(\d+)(?:x(\d+))?$/.exec(process.env.FACTORY_SAMPLE_TEAM_HISTORY ?? (flag === '--demo' ? DEMO_TEAM_HISTORY : ''));
  const withTeam = async (ws: SampleWorkspace) => {
    if (!team || Number(team[1]) === 0) return ws;
    const history = await (await import('./sample-history')).addTeamHistory(ws.dir, { changes: Number(team[1]), weeks: Number(team[2] ?? 10), writer: 'files' });
    return { ...ws, teamChanges: history.changeIds.length };
  };
  (flag === '--fresh' ? Promise.resolve(makeFreshRepository(target)) : makeSampleWorkspace(target, { demo: flag === '--demo' }).then(withTeam)).then(
    (ws) => console.log(JSON.stringify(ws)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
