// Generates a sample workspace: a real git repository with a small app and a
// `.factory/` record written by the product's own store, so the demo and the
// integration tests open exactly what a user would have after a few stage runs.
// Usage: npx tsx scripts/make-sample-workspace.ts <dir> [--fresh]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import { FileRecordStore } from '../src/store/recordStore';

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

export async function makeSampleWorkspace(target: string): Promise<SampleWorkspace> {
  const { dir } = makeFreshRepository(target);

  // A fixed, readable timeline: the record is written through the real store.
  // Relative to now, so the demo's running attempt reads "running 36m", not days.
  let clock = Date.now() - 55 * 60_000;
  const tick = (minutes: number) => {
    clock += minutes * 60_000;
    return new Date(clock);
  };
  const store = new FileRecordStore(dir, { now: () => new Date(clock) });
  await store.loadPipeline({ createIfMissing: true });
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
  await store.append(mainChangeId, { type: 'attempt.started', by, data: { stageId: 'implement', attemptId: impl2, backend: 'codex', model: 'gpt-5-codex' } });

  tick(30);
  const otherChangeId = store.newChangeId('Fix login redirect');
  await store.append(otherChangeId, { type: 'change.created', by, data: { title: 'Fix login redirect', ticket: 'APP-51', branch: 'fix/login-redirect' } });
  git(dir, 'branch', 'fix/login-redirect');
  return { dir, mainChangeId, otherChangeId };
}

if (process.argv[1] && /make-sample-workspace\.ts$/.test(process.argv[1])) {
  const [target, flag] = process.argv.slice(2);
  if (!target || (flag !== undefined && flag !== '--fresh')) {
    console.error('usage: make-sample-workspace.ts <dir> [--fresh]   (--fresh: the repository only, no record)');
    process.exit(2);
  }
  // FACTORY_SAMPLE_TEAM_HISTORY=<changes>[x<weeks>] (e.g. 80x12): teammates' branches with a
  // realistic history (scripts/sample-history.ts), fetched as team/*, for a living Flow Dashboard.
  const team = /^(\d+)(?:x(\d+))?$/.exec(process.env.FACTORY_SAMPLE_TEAM_HISTORY ?? '');
  const withTeam = async (ws: SampleWorkspace) => {
    if (team) await (await import('./sample-history')).addTeamHistory(ws.dir, { changes: Number(team[1]), weeks: Number(team[2] ?? 10), writer: 'files' });
    return ws;
  };
  (flag === '--fresh' ? Promise.resolve(makeFreshRepository(target)) : makeSampleWorkspace(target).then(withTeam)).then(
    (ws) => console.log(JSON.stringify(ws)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
