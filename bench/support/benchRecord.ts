// A generated record (N changes × M events, one file per event, as the store writes
// them) kept on disk between bench runs, so a bench does not spend minutes writing
// 500,000 files before it measures anything. Any bench can use it:
//   const record = await cachedBenchRecord({ changes: 10_000, eventsPerChange: 50 });
//   // record.root is a workspace (record.root/.factory/…), record.ids its change ids.
// Read it; never write into it. To measure a write, use withUndoneWrites() below, which
// removes what was added even when the previous run was killed midway.
// The cache is ~/.cache/factory-cockpit-bench (FACTORY_BENCH_CACHE), one folder per
// generator version and size: `record-v<RECORD_GENERATOR_VERSION>-<changes>x<events>`.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, lstatSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { defaultPipeline } from '../../src/core/pipeline';
import { FACTORY_GITIGNORE } from '../../src/store/gitignorePolicy';

/** Bump whenever eventsFor() or the layout changes: older folders are then removed. */
export const RECORD_GENERATOR_VERSION = 1;

const PREFIX = 'record-v';

export interface BenchRecordOptions {
  changes: number;
  eventsPerChange: number;
}

export interface BenchRecord {
  /** The workspace folder (holds `.factory/`). */
  root: string;
  /** Change ids, sorted. */
  ids: string[];
  /** True when this call wrote the record (the first run of this version and size). */
  built: boolean;
}

/** The folder that holds every cached bench record (and other benches' caches). */
export function benchCacheRoot(): string {
  return process.env.FACTORY_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'factory-cockpit-bench');
}

/** The generated events of one change: created, then rounds of attempt, result and handoff per stage. */
export function eventsFor(changeId: string, eventsPerChange: number, nextId: (t: number) => string, start: number): object[] {
  const stages = defaultPipeline().stages.map((s) => s.id);
  const events: object[] = [];
  let t = start;
  const push = (type: string, data: object) => {
    t += 1000;
    events.push({ v: 1, id: nextId(t), change: changeId, type, at: new Date(t).toISOString(), by: { name: 'Bench', email: 'bench@example.com' }, data });
  };
  push('change.created', { title: `Change ${changeId}`, branch: `factory/${changeId}`, ticket: 'APP-1', description: 'Generated for the benchmark.' });
  let stage = 0;
  while (events.length < eventsPerChange) {
    const stageId = stages[stage % stages.length]!;
    const attemptId = nextId(t);
    push('attempt.started', { stageId, attemptId, backend: 'claude-code', model: 'sonnet', contextVersion: 'v3', start: { commit: 'a'.repeat(40), tree: 'b'.repeat(40) } });
    push('attempt.finished', { stageId, attemptId, outcome: 'succeeded', summary: 'Did the thing, with a summary of a realistic length for a stage.', usage: { inputTokens: 12000, outputTokens: 900, costUsd: 0.12 }, durationMs: 42000, end: { tree: 'c'.repeat(40) } });
    push('verification.recorded', { stageId, criterionId: 'tests', attemptId, outcome: 'passed', required: true, durationMs: 3000, evidence: [{ sha256: 'd'.repeat(64), name: 'junit.xml', bytes: 1234 }], verified: { tree: 'c'.repeat(40) } });
    push('handoff.recorded', { fromStage: stageId, attemptId, contextVersion: 'v4', summary: 'Handing off.', outputs: ['plan.md'] });
    stage++;
  }
  return events.slice(0, eventsPerChange);
}

function changeIdOf(index: number): string {
  return `change-${String(index).padStart(5, '0')}`;
}

/** Writes a record into `root` (plain synchronous writes: the quickest way to lay down many small files). */
export function writeBenchRecord(root: string, options: BenchRecordOptions): string[] {
  const nextId = monotonicFactory();
  const ids: string[] = [];
  mkdirSync(path.join(root, '.factory'), { recursive: true });
  writeFileSync(path.join(root, '.factory', 'pipeline.json'), JSON.stringify(defaultPipeline(), null, 2));
  // As the store's first write leaves it, so a bench that appends does not add it to the cache.
  writeFileSync(path.join(root, '.factory', '.gitignore'), FACTORY_GITIGNORE);
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let c = 0; c < options.changes; c++) {
    const id = changeIdOf(c);
    ids.push(id);
    const dir = path.join(root, '.factory', 'changes', id, 'events');
    mkdirSync(dir, { recursive: true });
    for (const event of eventsFor(id, options.eventsPerChange, nextId, start + c * 60_000)) {
      writeFileSync(path.join(dir, `${(event as { id: string }).id}.json`), `${JSON.stringify(event, null, 2)}\n`);
    }
  }
  return ids;
}

/** The record of this generator version and size, written on first use (built beside it, then renamed into place). */
export function cachedBenchRecord(options: BenchRecordOptions): BenchRecord {
  const folder = path.join(benchCacheRoot(), `${PREFIX}${RECORD_GENERATOR_VERSION}-${options.changes}x${options.eventsPerChange}`);
  const marker = path.join(folder, 'done.json');
  const ids = Array.from({ length: options.changes }, (_, i) => changeIdOf(i));
  if (existsSync(marker)) {
    undoWrites(folder);
    return { root: path.join(folder, 'workspace'), ids, built: false };
  }
  const building = `${folder}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  writeBenchRecord(path.join(building, 'workspace'), options);
  writeFileSync(path.join(building, 'done.json'), JSON.stringify({ version: RECORD_GENERATOR_VERSION, ...options, ...diskUsage(building) }));
  rmSync(folder, { recursive: true, force: true }); // a folder left without its marker by a killed build
  try {
    renameSync(building, folder);
  } catch (error) {
    // Another run finished the same record first: use theirs.
    if (!existsSync(marker)) throw error;
    rmSync(building, { recursive: true, force: true });
  }
  return { root: path.join(folder, 'workspace'), ids, built: true };
}

/**
 * Removes cached records of older generator versions (and half-built ones of dead
 * runs); other benches' folders are left alone. Returns the folders removed.
 */
export function removeOlderBenchRecords(): string[] {
  const root = benchCacheRoot();
  const removed: string[] = [];
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    const match = /^record-v(\d+)-[^.]+(?:\.building-(\d+))?$/.exec(name);
    if (!match) continue;
    const older = Number(match[1]) !== RECORD_GENERATOR_VERSION;
    const deadBuild = match[2] !== undefined && !isAlive(Number(match[2]));
    if (!older && !deadBuild) continue;
    rmSync(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The bench cache's size: each cached record's (noted when it was written, so this does
 * not walk half a million files) and the names of other benches' folders beside them.
 */
export function benchCacheSize(): { recordBytes: number; recordFiles: number; records: string[]; others: string[] } {
  const root = benchCacheRoot();
  const result = { recordBytes: 0, recordFiles: 0, records: [] as string[], others: [] as string[] };
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    const marker = path.join(root, name, 'done.json');
    if (!name.startsWith(PREFIX) || !existsSync(marker)) {
      result.others.push(name);
      continue;
    }
    let done = JSON.parse(readFileSync(marker, 'utf8')) as { bytes?: number; files?: number };
    if (done.bytes === undefined) {
      // Written before sizes were noted: measured once, then noted.
      done = { ...done, ...diskUsage(path.join(root, name)) };
      writeFileSync(marker, JSON.stringify(done));
    }
    result.records.push(name);
    result.recordBytes += done.bytes ?? 0;
    result.recordFiles += done.files ?? 0;
  }
  return result;
}

/** Bytes on disk (allocated blocks) and files under `dir`, as `du` counts them. */
function diskUsage(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory()) continue;
    files++;
    bytes += lstatSync(path.join(entry.parentPath, entry.name)).blocks * 512;
  }
  return { bytes, files };
}

/**
 * Runs `write` against the cached record and then removes every file it added to the
 * given change folders. The names present before are noted on disk first, so a run
 * killed midway is undone by the next cachedBenchRecord() call.
 */
export async function withUndoneWrites<T>(record: BenchRecord, changeIds: readonly string[], write: () => Promise<T>): Promise<T> {
  const folder = path.dirname(record.root);
  const journal = Object.fromEntries(changeIds.map((id) => [id, readdirSync(eventsDir(record.root, id))]));
  writeFileSync(path.join(folder, 'undo.json'), JSON.stringify(journal));
  try {
    return await write();
  } finally {
    undoWrites(folder);
  }
}

function eventsDir(root: string, changeId: string): string {
  return path.join(root, '.factory', 'changes', changeId, 'events');
}

function undoWrites(folder: string): void {
  const journalPath = path.join(folder, 'undo.json');
  if (!existsSync(journalPath)) return;
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as Record<string, string[]>;
  const root = path.join(folder, 'workspace');
  for (const [changeId, before] of Object.entries(journal)) {
    const keep = new Set(before);
    const dir = eventsDir(root, changeId);
    for (const name of readdirSync(dir)) if (!keep.has(name)) rmSync(path.join(dir, name), { force: true });
  }
  rmSync(journalPath);
}
