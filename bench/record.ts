// The record at scale: 10,000 changes / 500,000 events, and a 20,000-file working tree.
// Prints numbers side by side; never fails on time. Goals: load + validate + fold
// ≤ 2× reading + JSON.parse of the same files; summary index load well under 100 ms;
// working-tree hash ≤ 1.2× the same git plumbing by hand.
//   node --expose-gc --import tsx bench/record.ts [changes] [eventsPerChange] [treeFiles]
// (--expose-gc lets the index timings start from a collected heap, as a freshly opened
// window has, instead of paying for the collection of the phases before them.)
import { execFileSync } from 'node:child_process';
import { promises as fs, mkdirSync, writeFileSync, copyFileSync, rmSync, statSync, utimesSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { monotonicFactory } from 'ulid';
import { FileRecordStore, mapLimit } from '../src/store/recordStore';
import { foldChange } from '../src/core/fold';
import { defaultPipeline } from '../src/core/pipeline';
import { validateEvent } from '../src/core/events';
import { GitAdapter } from '../src/git/gitAdapter';

const CHANGES = Number(process.argv[2] ?? 10_000);
const EVENTS_PER_CHANGE = Number(process.argv[3] ?? 50);
const TREE_FILES = Number(process.argv[4] ?? 20_000);
const CHANGE_CONCURRENCY = 16;

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}

async function time<T>(label: string, fn: () => Promise<T> | T, extra?: (ms: number, result: T) => string): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  line(label, ms, extra?.(ms, result));
  return { ms, result };
}

function eventsFor(changeId: string, nextId: (t: number) => string, start: number): object[] {
  const stages = defaultPipeline().stages.map((s) => s.id);
  const events: object[] = [];
  let t = start;
  const push = (type: string, data: object) => {
    t += 1000;
    events.push({ v: 1, id: nextId(t), change: changeId, type, at: new Date(t).toISOString(), by: { name: 'Bench', email: 'bench@example.com' }, data });
  };
  push('change.created', { title: `Change ${changeId}`, branch: `factory/${changeId}`, ticket: 'APP-1', description: 'Generated for the benchmark.' });
  let stage = 0;
  while (events.length < EVENTS_PER_CHANGE) {
    const stageId = stages[stage % stages.length]!;
    const attemptId = nextId(t);
    push('attempt.started', { stageId, attemptId, backend: 'claude-code', model: 'sonnet', contextVersion: 'v3', start: { commit: 'a'.repeat(40), tree: 'b'.repeat(40) } });
    push('attempt.finished', { stageId, attemptId, outcome: 'succeeded', summary: 'Did the thing, with a summary of a realistic length for a stage.', usage: { inputTokens: 12000, outputTokens: 900, costUsd: 0.12 }, durationMs: 42000, end: { tree: 'c'.repeat(40) } });
    push('verification.recorded', { stageId, criterionId: 'tests', attemptId, outcome: 'passed', required: true, durationMs: 3000, evidence: [{ sha256: 'd'.repeat(64), name: 'junit.xml', bytes: 1234 }], verified: { tree: 'c'.repeat(40) } });
    push('handoff.recorded', { fromStage: stageId, attemptId, contextVersion: 'v4', summary: 'Handing off.', outputs: ['plan.md'] });
    stage++;
  }
  return events.slice(0, EVENTS_PER_CHANGE);
}

async function generateRecord(root: string): Promise<string[]> {
  const nextId = monotonicFactory();
  const ids: string[] = [];
  const pipeline = defaultPipeline();
  mkdirSync(path.join(root, '.factory'), { recursive: true });
  writeFileSync(path.join(root, '.factory', 'pipeline.json'), JSON.stringify(pipeline, null, 2));
  const start = Date.parse('2026-01-01T00:00:00Z');
  // Plain synchronous writes: the quickest way to lay down half a million small files
  // (the store's own fsynced appends are measured by the unit tests, not here).
  for (let c = 0; c < CHANGES; c++) {
    const id = `change-${String(c).padStart(5, '0')}`;
    ids.push(id);
    const dir = path.join(root, '.factory', 'changes', id, 'events');
    mkdirSync(dir, { recursive: true });
    for (const event of eventsFor(id, nextId, start + c * 60_000)) {
      writeFileSync(path.join(dir, `${(event as { id: string }).id}.json`), `${JSON.stringify(event, null, 2)}\n`);
    }
  }
  return ids;
}

async function recordBench(): Promise<void> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(benchBase(), 'factory-bench-record-')));
  try {
    console.log(`\nRecord: ${CHANGES} changes × ${EVENTS_PER_CHANGE} events = ${CHANGES * EVENTS_PER_CHANGE} event files`);
    const { result: ids } = await time('generate', () => generateRecord(root));
    const pipeline = defaultPipeline();
    const store = new FileRecordStore(root);

    // 1. From disk (page cache warm after generation: a first-open cost, not a cold disk).
    let bytes = 0;
    const raw = await time('baseline: readdir + readFileSync + JSON.parse, every file', () => {
      const texts = ids.map((id) => {
        const dir = path.join(root, '.factory', 'changes', id, 'events');
        const files = readdirSync(dir).sort().map((n) => readFileSync(path.join(dir, n), 'utf8'));
        for (const text of files) JSON.parse(text);
        return files;
      });
      bytes = texts.reduce((n, t) => n + t.reduce((m, s) => m + s.length, 0), 0);
      return texts;
    });
    const ours = await time('store: readChange (validate) + foldChange, every change', async () => {
      const states = await mapLimit(ids, CHANGE_CONCURRENCY, async (id) => foldChange(id, pipeline, (await store.readChange(id)).events));
      return states.length;
    }, (ms) => `${(ms / raw.ms).toFixed(2)}× baseline (goal ≤ 2×)`);
    void ours;

    // 2. In memory: the CPU part alone, same bytes.
    const texts = raw.result;
    console.log(`  ${(bytes / 1024 / 1024).toFixed(0)} MB of JSON`);
    const parseOnly = await time('in memory: JSON.parse of the same bytes', () => {
      for (const change of texts) for (const t of change) JSON.parse(t);
    });
    await time('in memory: JSON.parse + validate (zod) + fold', () => {
      texts.forEach((change, i) => {
        const events = change.map((t) => {
          const r = validateEvent(JSON.parse(t));
          if (!r.ok) throw new Error(r.issue.message);
          return r.event;
        });
        foldChange(ids[i]!, pipeline, events);
      });
    }, (ms) => `${(ms / parseOnly.ms).toFixed(2)}× JSON.parse`);

    // 3. The summary index (the 260 MB of texts above released first: a heap that large
    // would make every garbage collection below slower than the work measured).
    raw.result.length = 0;
    await time('summaries(): build the index (folds every change)', () => store.summaries(), (_ms, r) => `${r.refolded} folded`);
    const indexBytes = statSync(store.indexPath).size;
    collectGarbage();
    await time('summary index: read + JSON.parse only', async () => JSON.parse(await fs.readFile(store.indexPath, 'utf8')), () => `${(indexBytes / 1024 / 1024).toFixed(1)} MB`);
    // A window opening: a fresh process, nothing decoded or collected before it.
    const opens = Array.from({ length: 5 }, () => openInFreshProcess(root));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    line('fresh process: first loadPipeline() (median of 5)', median(opens.map((o) => o.pipelineMs)), 'zod compiles its schemas on first use');
    line('fresh process: read + JSON.parse of the index (median of 5)', median(opens.map((o) => o.rawMs)));
    line('fresh process: indexedSummaries() (median of 5)', median(opens.map((o) => o.indexMs)), `min ${Math.min(...opens.map((o) => o.indexMs)).toFixed(1)} ms, ${opens[0]!.changes} summaries (goal well under 100 ms)`);
    line('fresh process: summaries(), index + a stat per change (median of 5)', median(opens.map((o) => o.summariesMs)), `min ${Math.min(...opens.map((o) => o.summariesMs)).toFixed(1)} ms, ${opens[0]!.refolded} refolded`);
    for (let i = 0; i < 3; i++) {
      await time(`summaries(), same store (a refresh): stat per change #${i + 1}`, () => store.summaries(), (_ms, r) => `${r.refolded} refolded`);
    }
    const changed = ids[Math.floor(ids.length / 2)]!;
    await store.append(changed, { type: 'change.completed', data: {} });
    await time('summaries() after one new event', () => store.summaries(), (_ms, r) => `${r.refolded} refolded`);
  } finally {
    await fs.rm(root, { recursive: true, force: true, maxRetries: 5 });
  }
}

function openInFreshProcess(root: string): { pipelineMs: number; rawMs: number; indexMs: number; summariesMs: number; changes: number; refolded: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'openIndex.ts'), root], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as { pipelineMs: number; rawMs: number; indexMs: number; summariesMs: number; changes: number; refolded: number };
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

/**
 * Half a million small files: on a RAM disk when there is one (/dev/shm; 10× quicker
 * to lay down than a virtual disk), or where FACTORY_BENCH_DIR says.
 */
function benchBase(): string {
  const wanted = process.env.FACTORY_BENCH_DIR ?? (statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory() ? '/dev/shm' : os.tmpdir());
  console.log(`(record written under ${wanted})`);
  return wanted;
}

async function main(): Promise<void> {
  await recordBench();
  await treeBench();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
