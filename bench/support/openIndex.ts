// One "window opening" on an existing record, in a fresh process: how long the first
// index load and the first summaries() take, in wall and CPU time. Prints one line of
// JSON for bench/support/indexOpenReport.ts.
//   node --import tsx bench/support/openIndex.ts <workspace> [--decode-only]
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FileRecordStore } from '../../src/store/recordStore';
import { decodeIndex, readIndexFile } from '../../src/store/summaryIndex';

/** Wall time and this process's CPU time (user + system; on a shared machine the steadier), in ms. */
export interface Timing {
  ms: number;
  cpu: number;
}

// Run with --expose-gc (indexOpenReport.ts does): each phase starts on a collected heap.
// Loading tsx, zod and the sources leaves a full collection due, which otherwise lands in
// whichever phase happens to allocate when it comes (the floor's parse in about half the
// runs, the open's in others): a cost of neither, that made the ratio swing by 2×.
const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function timed<T>(fn: () => Promise<T> | T, onCollectedHeap = true): Promise<[Timing, T]> {
  if (onCollectedHeap) collect();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  return [{ ms, cpu: (cpu.user + cpu.system) / 1000 }, result];
}

async function main(): Promise<void> {
  const root = process.argv[2];
  if (!root) throw new Error('usage: openIndex.ts <workspace>');
  // The window's store has read pipeline.json before it lists changes (and zod compiled
  // its schemas then): that first read is timed on its own.
  const store = new FileRecordStore(root);
  const [pipeline] = await timed(() => store.loadPipeline({ createIfMissing: false }));
  // The floor: reading and parsing the same file, nothing checked or decoded.
  const readAndParse = async (): Promise<unknown> => JSON.parse(await readFile(store.indexPath, 'utf8'));
  if (process.argv[3] === '--decode-only') {
    // The decoding on its own (check every row, build what the store keeps), cold, on
    // that parse: a process of its own, so that the open measured below meets no compiled code.
    const [raw, parsed] = await timed(readAndParse);
    // Right after it, as in the open: the parse is still young (not moved by a collection).
    const [decode] = await timed(() => decodeIndex(parsed), false);
    console.log(JSON.stringify({ raw, decode }));
    return;
  }
  // Not kept: a window opening has no other copy of the index in its heap.
  const [raw] = await timed(async () => void (await readAndParse()));
  // The store's open (what its first summaries() does before looking at the changes).
  const [index, indexed] = await timed(() => [...(readIndexFile(store.indexPath)?.entries.values() ?? [])].map((e) => e.summary));
  // What a list of every change (the Switch Change picker, the tree) reads of each
  // summary: were anything decoded on first use, its cost would show here.
  const [allRows] = await timed(() => {
    let read = 0;
    for (const s of indexed) {
      read += s.id.length + s.title.length + (s.ticket?.length ?? 0) + (s.branch?.length ?? 0) + (s.createdAt?.length ?? 0) + (s.activeStageId?.length ?? 0);
      read += s.stages.length + s.eventCount + s.problemCount + (s.completed ? 1 : 0);
    }
    return read;
  });
  const [summaries, load] = await timed(() => new FileRecordStore(root).summaries());
  console.log(JSON.stringify({ pipeline, raw, index, allRows, summaries, changes: indexed.length, refolded: load.refolded }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
