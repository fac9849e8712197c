// The record at scale: 10,000 changes / 500,000 events, and a 20,000-file working tree.
// Prints numbers side by side, and where the time goes; never fails on time. Goals:
// read + validate + fold ≤ 1.5× reading + JSON.parse of the same files; in memory,
// validate + fold ≤ 2.5× JSON.parse; summary index load well under 100 ms;
// working-tree hash ≤ 1.2× the same git plumbing by hand. The generated record is
// cached between runs (bench/support/benchRecord.ts, ~/.cache/factory-cockpit-bench).
//   node --expose-gc --import tsx bench/record.ts [changes] [eventsPerChange] [treeFiles]
// (treeFiles 0 skips the working-tree part.)
// (--expose-gc lets the index timings start from a collected heap, as a freshly opened
// window has, instead of paying for the collection of the phases before them.)
import { execFileSync } from 'node:child_process';
import { promises as fs, mkdirSync, writeFileSync, copyFileSync, rmSync, statSync, utimesSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileRecordStore, mapLimit } from '../src/store/recordStore';
import { foldChange } from '../src/core/fold';
import { defaultPipeline } from '../src/core/pipeline';
import { validateEvent } from '../src/core/events';
import { parseEventText } from '../src/store/eventFile';
import { EVENT_MIGRATIONS } from '../src/store/migrations';
import { benchCacheRoot, benchCacheSize, cachedBenchRecord, removeOlderBenchRecords, withUndoneWrites } from './support/benchRecord';
import { reportIndexOpen } from './support/indexOpenReport';
import { GitAdapter } from '../src/git/gitAdapter';

const CHANGES = Number(process.argv[2] ?? 10_000);
const EVENTS_PER_CHANGE = Number(process.argv[3] ?? 50);
const TREE_FILES = Number(process.argv[4] ?? 20_000);
const CHANGE_CONCURRENCY = 16;

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}

/** Wall time, and this process's CPU time (user + system): on a shared machine the CPU time is the steadier of the two. */
type Timing = { ms: number; cpu: number };
/** Floor and whole are each timed this many times, alternating; the better run counts. */
const ROUNDS = 2;

async function time<T>(label: string, fn: () => Promise<T> | T, extra?: (ms: number, result: T) => string): Promise<{ ms: number; cpu: number; result: T }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  const cpu = cpuMs(process.cpuUsage(cpuStart));
  line(label, ms, [`cpu ${cpu.toFixed(0)} ms`, extra?.(ms, result)].filter(Boolean).join('  '));
  return { ms, cpu, result };
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** Wall and CPU time summed over many short steps. */
class StepClock {
  wall = 0;
  cpu = 0;
  private wallStart = 0;
  private cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  start(): void {
    this.cpuStart = process.cpuUsage();
    this.wallStart = performance.now();
  }
  stop(): void {
    this.wall += performance.now() - this.wallStart;
    this.cpu += cpuMs(process.cpuUsage(this.cpuStart));
  }
}

async function recordBench(): Promise<void> {
  console.log(`\nRecord: ${CHANGES} changes × ${EVENTS_PER_CHANGE} events = ${CHANGES * EVENTS_PER_CHANGE} event files`);
  const removed = removeOlderBenchRecords();
  const { result: record } = await time(`generated record (cached in ${benchCacheRoot()})`, () => cachedBenchRecord({ changes: CHANGES, eventsPerChange: EVENTS_PER_CHANGE }), (_ms, r) => (r.built ? 'written now (first run of this generator version)' : 'from the cache'));
  const size = benchCacheSize();
  console.log(`  bench cache: generated records ${(size.recordBytes / 1024 / 1024).toFixed(0)} MB in ${size.recordFiles} files (${size.records.join(', ')}); other benches' folders: ${size.others.join(', ') || 'none'}`);
  if (removed.length) console.log(`  removed older generator versions: ${removed.join(', ')}`);
  const { root, ids } = record;
  // The summary index goes to a cache of this run (the store's default is the user's
  // cache, where an earlier run's index of the same record would make it look free).
  const indexCache = await fs.mkdtemp(path.join(os.tmpdir(), 'factory-bench-index-'));
  process.env.FACTORY_COCKPIT_CACHE_DIR = indexCache;
  try {
    const pipeline = defaultPipeline();
    const store = new FileRecordStore(root);

    // 1. From disk. The first pass warms the page cache (its time says how cold the cache
    // was); the baseline and the store then alternate, twice, and the better of each counts.
    const eventsDir = (id: string) => path.join(root, '.factory', 'changes', id, 'events');
    const readAll = () => ids.map((id) => readdirSync(eventsDir(id)).sort().map((name) => ({ name, text: readFileSync(path.join(eventsDir(id), name), 'utf8') })));
    await time('first pass: readdir + readFileSync (page cache as found)', readAll);
    const readOnly = await time('read only: readdir + readFileSync, every file', readAll);
    const files = readOnly.result;
    const texts = files.map((change) => change.map((f) => f.text));
    const bytes = texts.reduce((n, t) => n + t.reduce((m, s) => m + s.length, 0), 0);
    console.log(`  ${(bytes / 1024 / 1024).toFixed(0)} MB of JSON`);
    const baseline = () => time('baseline: readdir + readFileSync + JSON.parse, every file', () => {
      for (const id of ids) for (const n of readdirSync(eventsDir(id)).sort()) JSON.parse(readFileSync(path.join(eventsDir(id), n), 'utf8'));
    });
    const ours = () =>
      time('store: readChange (read, check, validate) + foldChange', async () => {
        const states = await mapLimit(ids, CHANGE_CONCURRENCY, async (id) => foldChange(id, pipeline, (await store.readChange(id)).events));
        return states.length;
      });
    const [raw, stored] = await bestOfTwoAlternating(baseline, ours);

    // 2. In memory, the same bytes: the floor and the whole, alternating, the better of
    // two each (as on disk); then each step timed change by change.
    const parseAll = () =>
      time('in memory: JSON.parse of the same bytes', () => {
        for (const change of texts) for (const t of change) JSON.parse(t);
      });
    const validateAndFold = () =>
      time('in memory: JSON.parse + validate + fold', () => {
        texts.forEach((change, i) => {
          const events = change.map((text) => {
            const r = validateEvent(JSON.parse(text));
            if (!r.ok) throw new Error(r.issue.message);
            return r.event;
          });
          foldChange(ids[i]!, pipeline, events);
        });
      });
    const [parseOnly, inMemory] = await bestOfTwoAlternating(parseAll, validateAndFold);
    // The same, each step timed on its own (the clocks cost a little: this pass is the slower).
    const steps = { parse: new StepClock(), validate: new StepClock(), fold: new StepClock() };
    collectGarbage();
    await time('in memory: the same, step by step', () => {
      texts.forEach((change, i) => {
        steps.parse.start();
        const parsed = change.map((text) => JSON.parse(text) as unknown);
        steps.parse.stop();
        steps.validate.start();
        const events = parsed.map((value) => {
          const r = validateEvent(value);
          if (!r.ok) throw new Error(r.issue.message);
          return r.event;
        });
        steps.validate.stop();
        steps.fold.start();
        foldChange(ids[i]!, pipeline, events);
        steps.fold.stop();
      });
    });
    collectGarbage();
    const fileChecks = await time('in memory: parseEventText (parse + file checks + validate)', () => {
      files.forEach((change, i) => {
        for (const { name, text } of change) {
          const r = parseEventText(ids[i]!, name, text, EVENT_MIGRATIONS);
          if ('problem' in r) throw new Error(r.problem.message);
        }
      });
    });
    const checks = { wall: Math.max(0, fileChecks.ms - steps.parse.wall - steps.validate.wall), cpu: Math.max(0, fileChecks.cpu - steps.parse.cpu - steps.validate.cpu) };
    const row = (label: string, wall: number, cpu: number) => console.log(`  ${label.padEnd(38)} ${wall.toFixed(0).padStart(7)} ms wall ${cpu.toFixed(0).padStart(7)} ms cpu  ~${((cpu / stored.cpu) * 100).toFixed(0)}% of the store's cpu`);
    console.log('\nWhere the time goes (each step measured on its own; the store does them all):');
    row('read (readdir + open/read/close)', readOnly.ms, readOnly.cpu);
    row('JSON.parse', steps.parse.wall, steps.parse.cpu);
    row('file checks (size, depth, keys, name)', checks.wall, checks.cpu);
    row('validate (fast check, else zod)', steps.validate.wall, steps.validate.cpu);
    row('fold', steps.fold.wall, steps.fold.cpu);
    row('store: readChange + foldChange (best)', stored.ms, stored.cpu);
    row('baseline: read + JSON.parse (best)', raw.ms, raw.cpu);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    console.log(`read + validate + fold: ${ratio(stored.ms, raw.ms)} the raw read + JSON.parse (cpu ${ratio(stored.cpu, raw.cpu)}; goal ≤ 1.5×; best of ${ROUNDS} each)`);
    console.log(`in memory, JSON.parse + validate + fold: ${ratio(inMemory.ms, parseOnly.ms)} JSON.parse of the same bytes (cpu ${ratio(inMemory.cpu, parseOnly.cpu)}; goal ≤ 2.5×; best of ${ROUNDS} each; validate ${ratio(steps.validate.cpu, parseOnly.cpu)}, fold ${ratio(steps.fold.cpu, parseOnly.cpu)} of it in cpu)`);

    // 3. The summary index (the texts above released first: a heap that large would
    // make every garbage collection below slower than the work measured).
    texts.length = 0;
    files.length = 0;
    collectGarbage();
    await time('summaries(): build the index (folds every change)', () => store.summaries(), (_ms, r) => `${r.refolded} folded`);
    const indexBytes = statSync(store.indexPath).size;
    collectGarbage();
    await time('summary index: read + JSON.parse only', async () => JSON.parse(await fs.readFile(store.indexPath, 'utf8')), () => `${(indexBytes / 1024 / 1024).toFixed(1)} MB, ${(indexBytes / ids.length).toFixed(0)} bytes per change`);
    // A window opening: fresh processes, nothing decoded or collected before it.
    reportIndexOpen(root, store.indexPath, 5, line);
    for (let i = 0; i < 3; i++) {
      await time(`summaries(), same store (a refresh): stat per change #${i + 1}`, () => store.summaries(), (_ms, r) => `${r.refolded} refolded`);
    }
    const changed = ids[Math.floor(ids.length / 2)]!;
    // The cached record is shared between runs: the event written here is removed again.
    await withUndoneWrites(record, [changed], async () => {
      await store.append(changed, { type: 'change.completed', data: {} });
      await time('summaries() after one new event', () => store.summaries(), (_ms, r) => `${r.refolded} refolded`);
    });
  } finally {
    delete process.env.FACTORY_COCKPIT_CACHE_DIR;
    await fs.rm(indexCache, { recursive: true, force: true, maxRetries: 5 });
  }
}

/** A full collection before a timing, when the bench runs with --expose-gc. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();
}

async function treeBench(): Promise<void> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'factory-bench-tree-')));
  try {
    console.log(`\nWorking tree: ${TREE_FILES} files (committed), 50 modified, 50 untracked`);
    git(root, ['init', '-q', '-b', 'main']);
    for (let i = 0; i < TREE_FILES; i++) {
      const dir = path.join(root, 'src', `m${i % 200}`);
      if (i < 200) mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `f${i}.ts`), `export const v${i} = ${i};\n// ${'x'.repeat(200)}\n`);
    }
    git(root, ['add', '-A']);
    git(root, ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'tree']);
    for (let i = 0; i < 50; i++) writeFileSync(path.join(root, 'src', `m${i}`, `f${i}.ts`), `changed ${i}\n`);
    for (let i = 0; i < 50; i++) writeFileSync(path.join(root, `untracked${i}.txt`), `new ${i}\n`);
    mkdirSync(path.join(root, '.factory'));
    writeFileSync(path.join(root, '.factory', 'pipeline.json'), '{}');
    git(root, ['status', '--porcelain']); // refresh the real index's stat data, as any editor's git would

    const adapter = new GitAdapter(root);
    const gitDir = git(root, ['rev-parse', '--absolute-git-dir']);
    const tmpIndex = path.join(gitDir, 'bench-index');
    const runs = 5;
    const byHandEmpty = await time(`by hand: GIT_INDEX_FILE=<empty> add -A + write-tree (×${runs})`, () => {
      for (let i = 0; i < runs; i++) {
        rmSync(tmpIndex, { force: true });
        git(root, ['add', '-A'], { GIT_INDEX_FILE: tmpIndex });
        git(root, ['write-tree'], { GIT_INDEX_FILE: tmpIndex });
      }
    });
    const byHandCopy = await time(`by hand: copy of index + add -A + write-tree (×${runs})`, () => {
      for (let i = 0; i < runs; i++) {
        copyFileSync(path.join(gitDir, 'index'), tmpIndex);
        const st = statSync(path.join(gitDir, 'index'));
        utimesSync(tmpIndex, st.atime, st.mtime);
        git(root, ['add', '-A'], { GIT_INDEX_FILE: tmpIndex });
        git(root, ['write-tree'], { GIT_INDEX_FILE: tmpIndex });
      }
    });
    rmSync(tmpIndex, { force: true });
    await adapter.workingTreeHash(); // resolve the repository layout once
    await time(`adapter.workingTreeHash() (×${runs}, .factory/ excluded)`, async () => {
      for (let i = 0; i < runs; i++) await adapter.workingTreeHash();
    }, (ms) => `${(ms / byHandEmpty.ms).toFixed(2)}× by hand from empty, ${(ms / byHandCopy.ms).toFixed(2)}× by hand from a copy (goal ≤ 1.2×)`);

    // A record that is committed (it travels with the branch) is in the index the hash
    // starts from, and has to be left out of the tree.
    const recordFiles = 10_000;
    for (let i = 0; i < recordFiles; i++) {
      const dir = path.join(root, '.factory', 'changes', `c${i % 1000}`, 'events');
      if (i < 1000) mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `e${i}.json`), `{"i":${i}}\n`);
    }
    git(root, ['add', '-A']);
    git(root, ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'record']);
    const byHandWithRecord = await time(`by hand, ${recordFiles} record files committed: copy + add -A + write-tree (×${runs})`, () => {
      for (let i = 0; i < runs; i++) {
        copyFileSync(path.join(gitDir, 'index'), tmpIndex);
        git(root, ['add', '-A'], { GIT_INDEX_FILE: tmpIndex });
        git(root, ['write-tree'], { GIT_INDEX_FILE: tmpIndex });
      }
    });
    rmSync(tmpIndex, { force: true });
    await time(`adapter.workingTreeHash(), same record (×${runs}, .factory/ cut out)`, async () => {
      for (let i = 0; i < runs; i++) await adapter.workingTreeHash();
    }, (ms) => `${(ms / byHandWithRecord.ms).toFixed(2)}× by hand (which keeps the record in the hash)`);
  } finally {
    await fs.rm(root, { recursive: true, force: true, maxRetries: 5 });
  }
}

async function main(): Promise<void> {
  await recordBench();
  if (TREE_FILES > 0) await treeBench();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});


/** The floor and the whole, alternating over ROUNDS rounds (a GC before each): the better of each. */
async function bestOfTwoAlternating(floor: () => Promise<Timing>, whole: () => Promise<Timing>): Promise<[Timing, Timing]> {
  const floors: Timing[] = [];
  const wholes: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    collectGarbage();
    floors.push(await floor());
    collectGarbage();
    wholes.push(await whole());
  }
  const best = (runs: Timing[]): Timing => ({ ms: Math.min(...runs.map((r) => r.ms)), cpu: Math.min(...runs.map((r) => r.cpu)) });
  return [best(floors), best(wholes)];
}
