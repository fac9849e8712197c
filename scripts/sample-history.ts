// A realistic sample history for the lead's dashboard, its tests, the demo and bench/:
// N changes over M weeks on several branches (local and remote-tracking, some merged
// into main), with varied owners, retries, failures, send-backs, rollbacks, context
// re-created now and then, people approving, a promoted lesson after which its kind of
// failure gets rarer, a few changes stuck and a few events not committed yet. Written
// through the real store (or, for big bench histories, as the same files directly)
// and committed in a real git repository. Deterministic for a seed.
//   npx tsx scripts/sample-history.ts <dir> [changes] [weeks]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { monotonicFactory } from 'ulid';
import { EMPTY_PACK_VERSION } from '../src/core/contextPack';
import type { EventDraft } from '../src/core/events';
import { DecisionLog } from '../src/store/decisionLog';
import { FileRecordStore } from '../src/store/recordStore';

/** Bump when the generated history changes: cached histories are keyed by it. */
export const SAMPLE_HISTORY_VERSION = 2;

export interface SampleHistoryOptions {
  changes: number;
  weeks: number;
  /** Feature branches besides main (default: about one per five changes, at most 40). */
  branches?: number;
  seed?: number;
  /** The end of the history (default now): the demo looks alive. */
  now?: number;
  /** `store`: through FileRecordStore (default); `files`: the same files written directly (bench sizes). */
  writer?: 'store' | 'files';
  /** Events written after the last commit on main, left uncommitted. Default 3. */
  uncommitted?: number;
}

export interface SampleHistory {
  dir: string;
  changeIds: string[];
  branches: string[];
  events: number;
  now: number;
  lessonId: string;
  /** A change whose approval was committed by someone else than the approver it names. */
  forgedChangeId?: string;
}

interface Person {
  name: string;
  email: string;
}
const DEVELOPERS: Person[] = [
  { name: 'Dana Developer', email: 'dana@example.com' },
  { name: 'Sam Lee', email: 'sam@example.com' },
  { name: 'Priya Shah', email: 'priya@example.com' },
  { name: 'Alex Kim', email: 'alex@example.com' },
];
const LEAD: Person = { name: 'Lee Lead', email: 'lee@example.com' };
const MALLORY: Person = { name: 'Mallory', email: 'mallory@fork.example' };

/** Owners per stage with their chance of passing an attempt. */
const AGENTS: Record<string, { backend: string; model: string; pass: number; minutes: number }[]> = {
  plan: [
    { backend: 'claude-code', model: 'claude-sonnet-4-5', pass: 0.92, minutes: 4 },
    { backend: 'gemini', model: 'gemini-2.5-pro', pass: 0.82, minutes: 5 },
  ],
  implement: [
    { backend: 'codex', model: 'gpt-5-codex', pass: 0.8, minutes: 22 },
    { backend: 'claude-code', model: 'claude-sonnet-4-5', pass: 0.72, minutes: 18 },
    { backend: 'droid', model: 'claude-opus-4-1', pass: 0.62, minutes: 30 },
  ],
  test: [
    { backend: 'claude-code', model: 'claude-sonnet-4-5', pass: 0.86, minutes: 9 },
    { backend: 'gemini', model: 'gemini-2.5-pro', pass: 0.68, minutes: 12 },
  ],
};
const TITLES = ['Add password reset', 'Fix login redirect', 'Rate-limit the API', 'Export invoices as CSV', 'Dark mode for settings', 'Retry failed webhooks', 'Paginate the audit log', 'Cache avatar thumbnails', 'Validate signup email', 'Two-factor recovery codes', 'Search by customer id', 'Archive old projects'];
const AGENT_FAILURES = ['Agent exited with code 1', 'TypeError: Cannot read properties of undefined (reading \'id\')', 'The agent stopped: tool call refused (write outside the workspace)'];
const TEST_FAILURES = ['3 tests failed in auth.spec.ts', 'npm test exited with code 1: 1 failing', 'Coverage below 80% for src/api'];
export const LESSON_NOTE = 'Missing error handling for network and file failures';
const SEND_BACK_NOTES = [LESSON_NOTE, 'Missing error handling around the HTTP call', 'No test for the empty input case', 'Naming does not follow the conventions'];
export const LESSON_TEXT = 'Handle errors from every network and file call, and add a test for the failure path.';

interface Pending {
  t: number;
  branch: string;
  changeId: string;
  draft: EventDraft;
  /** Git author of the commit that adds it. */
  committer: Person;
}

/** A small seeded PRNG (mulberry32): the same seed, the same history. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function git(dir: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 }).trim();
}
const as = (p: Person) => ({ GIT_AUTHOR_NAME: p.name, GIT_AUTHOR_EMAIL: p.email, GIT_COMMITTER_NAME: p.name, GIT_COMMITTER_EMAIL: p.email });

/** Plans every event of the history in memory. */
export function planHistory(options: SampleHistoryOptions): { pending: Pending[]; changeIds: string[]; branches: string[]; lessonAt: number; lessonId: string; forgedChangeId?: string; now: number } {
  const random = rng(options.seed ?? 42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const now = options.now ?? Date.now();
  const start = now - options.weeks * 7 * 86_400_000;
  const branchCount = options.branches ?? Math.min(40, Math.max(2, Math.round(options.changes / 5)));
  const branches = ['main', ...Array.from({ length: branchCount }, (_, i) => `feature/${String(i + 1).padStart(3, '0')}-${pick(['auth', 'api', 'ui', 'billing', 'search'])}`)];
  const lessonAt = start + (now - start) * 0.55;
  const lessonId = 'implement-error-handling';
  const pending: Pending[] = [];
  const changeIds: string[] = [];
  let forgedChangeId: string | undefined;
  const MIN = 60_000;
  const HOUR = 60 * MIN;

  for (let c = 0; c < options.changes; c++) {
    const title = `${TITLES[c % TITLES.length]}${c >= TITLES.length ? ` (${Math.floor(c / TITLES.length) + 1})` : ''}`;
    const changeId = `${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}-${String(c).padStart(5, '0')}`.slice(0, 80);
    changeIds.push(changeId);
    const author = pick(DEVELOPERS);
    const branch = random() < 0.35 ? 'main' : branches[1 + (c % branchCount)]!;
    let t = start + (now - start) * (c / options.changes) * 0.97 + random() * 6 * HOUR;
    // Most changes finish; recent ones are in progress; some old ones stall (stuck).
    const age = (now - t) / 86_400_000;
    const stopAtStage = age < 5 ? Math.floor(random() * 5) : random() < 0.08 ? 1 + Math.floor(random() * 3) : 99;
    const push = (draft: EventDraft, by: Person, committer: Person = by) => pending.push({ t: Math.round(t), branch, changeId, draft: { ...draft, by: { name: by.name, email: by.email } }, committer });
    push({ type: 'change.created', data: { title, ticket: `APP-${100 + c}`, branch } }, author);
    const owners = Object.fromEntries(Object.entries(AGENTS).map(([stage, list]) => [stage, pick(list)]));
    const stageIds = ['plan', 'implement', 'test', 'review', 'qa'];
    let sentBackOnce = false;
    let lastImplAttempt: string | undefined;
    const live: string[] = [];
    const ids = monotonicFactory();
    const afterLesson = () => t > lessonAt;
    let stageIndex = 0;
    let completed = true;
    while (stageIndex < stageIds.length) {
      const stageId = stageIds[stageIndex]!;
      if (stageIndex >= stopAtStage) {
        completed = false;
        break;
      }
      t += (0.2 + random() * 3) * HOUR; // in the queue
      if (stageId === 'review' || stageId === 'qa') {
        const attemptId = ids(Math.round(t));
        push({ type: 'attempt.started', data: { stageId, attemptId, backend: 'human', contextVersion: EMPTY_PACK_VERSION } }, LEAD);
        live.push(attemptId);
        t += (1 + random() * 20) * HOUR; // waiting for a person
        const errorProne = owners.implement!.backend === 'droid' ? 0.35 : 0.2;
        if (stageId === 'review' && !sentBackOnce && random() < (afterLesson() ? errorProne / 3 : errorProne)) {
          // Sent back to implement with a note; later stages' attempts are superseded.
          sentBackOnce = true;
          const note = afterLesson() ? pick(SEND_BACK_NOTES.slice(2)) : pick(SEND_BACK_NOTES);
          push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'failed', reason: note, durationMs: 0 } }, LEAD);
          push({ type: 'stage.sentBack', data: { fromStage: 'review', toStage: 'implement', note, ...(lastImplAttempt ? { reopens: lastImplAttempt } : {}), supersedes: live.filter((a) => a !== lastImplAttempt), contextVersion: EMPTY_PACK_VERSION } }, LEAD);
          live.length = 0;
          stageIndex = 1;
          continue;
        }
        push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'succeeded', summary: `${stageId} done` } }, LEAD);
        push({ type: 'verification.recorded', data: { stageId, criterionId: stageId === 'qa' ? 'qa-approved' : 'approved', attemptId, outcome: 'passed', required: true } }, LEAD);
        // One approval on a fork's branch is committed by someone else than the lead it names.
        const forge = !forgedChangeId && branch !== 'main' && stageId === 'qa' && c > options.changes / 2;
        if (forge) forgedChangeId = changeId;
        push({ type: 'review.decided', data: { stageId, decision: 'approved' } }, LEAD, forge ? MALLORY : LEAD);
        push({ type: 'handoff.recorded', data: { fromStage: stageId, attemptId, contextVersion: EMPTY_PACK_VERSION, outputs: [] } }, LEAD);
        stageIndex++;
        continue;
      }
      const owner = owners[stageId]!;
      let passed = false;
      for (let n = 1; n <= 3 && !passed; n++) {
        const attemptId = ids(Math.round(t));
        // Now and then an attempt starts without the pack its stage was handed (re-created context).
        const recreate = random() < (owner.backend === 'droid' ? 0.05 : 0.015);
        push({ type: 'attempt.started', data: { stageId, attemptId, backend: owner.backend, model: owner.model, number: n, trigger: n === 1 ? 'run' : 'retry', ...(recreate ? {} : { contextVersion: EMPTY_PACK_VERSION }) } }, author);
        live.push(attemptId);
        if (stageId === 'implement') lastImplAttempt = attemptId;
        const minutes = owner.minutes * (0.5 + random());
        t += minutes * MIN;
        const tokens = Math.round(minutes * (800 + random() * 1500));
        const usage = { inputTokens: tokens, outputTokens: Math.round(tokens / 6), costUsd: Math.round(tokens * 0.00001 * 100) / 100, costSource: 'estimate' as const };
        const roll = random();
        if (roll < owner.pass) {
          push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'succeeded', summary: `${stageId}: done`, durationMs: Math.round(minutes * MIN), usage } }, author);
          if (random() < 0.04) {
            // Rolled back by its owner, who runs it again.
            t += 10 * MIN;
            push({ type: 'attempt.rolledBack', data: { stageId, attemptId } }, author);
            live.pop();
            continue;
          }
          push({ type: 'verification.recorded', data: { stageId, criterionId: stageId === 'plan' ? 'plan-written' : 'tests', attemptId, outcome: 'passed', required: true } }, author);
          passed = true;
          if (stageId === 'plan') {
            push({ type: 'stage.approvalRequested', data: { stageId, attemptId } }, author);
            t += (0.3 + random() * 6) * HOUR;
            push({ type: 'review.decided', data: { stageId, decision: 'approved' } }, LEAD);
          }
          push({ type: 'handoff.recorded', data: { fromStage: stageId, attemptId, contextVersion: EMPTY_PACK_VERSION, outputs: stageId === 'plan' ? ['PLAN.md'] : [] } }, author);
        } else {
          const kind = random();
          if (kind < 0.15) push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'timedOut', reason: 'timed out after 30 minutes', durationMs: 30 * MIN, usage } }, author);
          else if (kind < 0.25) push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'budgetExceeded', reason: 'cost budget of $2.00 exceeded', durationMs: Math.round(minutes * MIN), usage } }, author);
          else if (kind < 0.6) push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'failed', reason: pick(AGENT_FAILURES), durationMs: Math.round(minutes * MIN), usage } }, author);
          else {
            push({ type: 'attempt.finished', data: { stageId, attemptId, outcome: 'succeeded', durationMs: Math.round(minutes * MIN), usage } }, author);
            const message = pick(TEST_FAILURES);
            push({ type: 'verification.recorded', data: { stageId, criterionId: 'tests', attemptId, outcome: 'failed', required: true, message, failureFeedback: message } }, author);
          }
          t += (2 + random() * 20) * MIN;
        }
      }
      if (!passed) {
        completed = false;
        break;
      }
      stageIndex++;
    }
    if (completed) push({ type: 'change.completed', data: {} }, author);
  }
  // Never in the future.
  for (const p of pending) p.t = Math.min(p.t, now - 60_000);
  return { pending: pending.sort((a, b) => a.t - b.t), changeIds, branches, lessonAt, lessonId, ...(forgedChangeId ? { forgedChangeId } : {}), now };
}

/** Writes the history into `target` (a new git repository with a small app). */
export async function writeSampleHistory(target: string, options: SampleHistoryOptions): Promise<SampleHistory> {
  const dir = resolve(target);
  const plan = planHistory(options);
  const { makeFreshRepository } = await import('./make-sample-workspace');
  if (!existsSync(join(dir, '.git'))) makeFreshRepository(dir);
  const writer = options.writer ?? 'store';
  let clock = 0;
  const store = new FileRecordStore(dir, { now: () => new Date(clock) });
  await store.loadPipeline({ createIfMissing: true });
  git(dir, ['add', '.factory']);
  git(dir, ['commit', '-q', '-m', 'Factory pipeline'], as(DEVELOPERS[0]!));
  const base = git(dir, ['rev-parse', 'HEAD']);
  const ids = monotonicFactory();
  const write = async (p: Pending) => {
    clock = p.t;
    if (writer === 'store') return store.append(p.changeId, p.draft);
    const id = ids(p.t);
    const events = join(dir, '.factory', 'changes', p.changeId, 'events');
    mkdirSync(events, { recursive: true });
    writeFileSync(join(events, `${id}.json`), `${JSON.stringify({ v: 1, id, change: p.changeId, type: p.draft.type, at: new Date(p.t).toISOString(), by: p.draft.by, data: p.draft.data }, null, 2)}\n`);
    return undefined;
  };
  /** Commits what was written, one commit per committer, so git says who added each event file. */
  const commitBy = (items: Pending[]) => {
    const byCommitter = new Map<string, Pending[]>();
    for (const p of items) byCommitter.set(p.committer.email, [...(byCommitter.get(p.committer.email) ?? []), p]);
    return byCommitter;
  };
  const uncommitted = options.uncommitted ?? 3;
  const byBranch = new Map<string, Pending[]>();
  for (const p of plan.pending) byBranch.set(p.branch, [...(byBranch.get(p.branch) ?? []), p]);
  const merged: string[] = [];
  const remoteOnly: string[] = [];
  let i = 0;
  for (const branch of plan.branches.slice(1)) {
    const items = byBranch.get(branch) ?? [];
    git(dir, ['checkout', '-q', '-B', branch, base]);
    // Written by committer, committed by committer: the events of each person in their own commit.
    for (const [, group] of commitBy(items)) {
      for (const p of group) await write(p);
      git(dir, ['add', '.factory']);
      git(dir, ['commit', '-q', '--allow-empty', '-m', `factory: record of ${branch}`], as(group[0]!.committer));
    }
    if (i % 3 === 1) merged.push(branch);
    else if (i % 3 === 2) remoteOnly.push(branch);
    i++;
  }
  git(dir, ['checkout', '-q', 'main']);
  const mainItems = byBranch.get('main') ?? [];
  const toCommit = mainItems.slice(0, Math.max(0, mainItems.length - uncommitted));
  for (const [, group] of commitBy(toCommit)) {
    for (const p of group) await write(p);
    git(dir, ['add', '.factory']);
    git(dir, ['commit', '-q', '--allow-empty', '-m', 'factory: record'], as(group[0]!.committer));
  }
  for (const branch of merged) git(dir, ['merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch], as(LEAD));
  // The lesson: promoted by the lead, written into the conventions and recorded.
  const conventions = join(dir, '.factory', 'conventions.md');
  writeFileSync(conventions, `# Project conventions\n\n- ${LESSON_TEXT}\n`);
  await new DecisionLog(dir, { now: () => new Date(plan.lessonAt) }).append({
    type: 'lesson.promoted',
    by: { name: LEAD.name, email: LEAD.email },
    data: { lessonId: plan.lessonId, stageId: 'implement', kind: 'sentBack', text: LESSON_TEXT, target: '.factory/conventions.md', examples: [] },
  });
  git(dir, ['add', '.factory']);
  git(dir, ['commit', '-q', '-m', 'factory: lesson promoted'], as(LEAD));
  // Teammates' branches known only as remote-tracking branches.
  for (const branch of remoteOnly) {
    git(dir, ['update-ref', `refs/remotes/origin/${branch}`, branch]);
    git(dir, ['branch', '-q', '-D', branch]);
  }
  for (const p of mainItems.slice(toCommit.length)) await write(p);
  return {
    dir,
    changeIds: plan.changeIds,
    branches: plan.branches.map((b) => (remoteOnly.includes(b) ? `origin/${b}` : b)),
    events: plan.pending.length + 1,
    now: plan.now,
    lessonId: plan.lessonId,
    ...(plan.forgedChangeId ? { forgedChangeId: plan.forgedChangeId } : {}),
  };
}

/**
 * A generated history kept in a cache folder keyed by the generator's version and the
 * options, so benches do not rebuild 500,000 events every run. Read it, never write it.
 */
export async function cachedSampleHistory(options: SampleHistoryOptions & { now: number }): Promise<SampleHistory> {
  const key = createHash('sha256').update(JSON.stringify({ v: SAMPLE_HISTORY_VERSION, ...options })).digest('hex').slice(0, 16);
  const root = join(process.env.FACTORY_BENCH_CACHE ?? join(os.homedir(), '.cache', 'factory-cockpit-bench'), `history-v${SAMPLE_HISTORY_VERSION}-${key}`);
  const marker = join(root, 'history.json');
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as SampleHistory;
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const history = await writeSampleHistory(join(building, 'repo'), options);
  renameSync(building, root);
  const result = { ...history, dir: join(root, 'repo') };
  writeFileSync(marker, JSON.stringify(result));
  return result;
}

if (process.argv[1] && /sample-history\.ts$/.test(process.argv[1])) {
  const [target, changes = '60', weeks = '10'] = process.argv.slice(2);
  if (!target) throw new Error('usage: sample-history.ts <dir> [changes] [weeks]');
  writeSampleHistory(target, { changes: Number(changes), weeks: Number(weeks) }).then(
    (h) => console.log(JSON.stringify({ ...h, changeIds: h.changeIds.length })),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

/**
 * A team's history shared into an existing repository, as a pull would: generated in a
 * folder beside it and fetched as remote-tracking branches `team/*` (their record then
 * reaches the dashboard through git objects, as teammates' branches do).
 */
export async function addTeamHistory(dir: string, options: SampleHistoryOptions): Promise<SampleHistory> {
  const team = `${resolve(dir)}-team`;
  rmSync(team, { recursive: true, force: true });
  const history = await writeSampleHistory(team, options);
  git(dir, ['fetch', '-q', team, '+refs/heads/*:refs/remotes/team/*', '+refs/remotes/origin/*:refs/remotes/team-origin/*']);
  return history;
}
