// One "window opening" on an existing record, in a fresh process: how long the first
// index load and the first summaries() take. Prints one line of JSON for bench/record.ts.
//   node --import tsx bench/support/openIndex.ts <workspace> [--decode-only]
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FileRecordStore } from '../../src/store/recordStore';
import { decodeIndex } from '../../src/store/summaryIndex';

async function main(): Promise<void> {
  const root = process.argv[2];
  if (!root) throw new Error('usage: openIndex.ts <workspace>');
  // The window's store has read pipeline.json before it lists changes (and zod compiled
  // its schemas then): that first read is timed on its own.
  const store = new FileRecordStore(root);
  let start = performance.now();
  await store.loadPipeline({ createIfMissing: false });
  const pipelineMs = performance.now() - start;
  // The floor: reading and parsing the same file, nothing checked or decoded.
  start = performance.now();
  const parsed: unknown = JSON.parse(await readFile(store.indexPath, 'utf8'));
  const rawMs = performance.now() - start;
  if (process.argv[3] === '--decode-only') {
    // The decoding on its own (check every row, build the entries), cold, on that parse:
    // a process of its own, so that the open measured below meets no compiled code.
    start = performance.now();
    decodeIndex(parsed);
    console.log(JSON.stringify({ decodeMs: performance.now() - start }));
    return;
  }
  start = performance.now();
  const indexed = await store.indexedSummaries();
  const indexMs = performance.now() - start;
  start = performance.now();
  const load = await new FileRecordStore(root).summaries();
  const summariesMs = performance.now() - start;
  console.log(JSON.stringify({ pipelineMs, rawMs, indexMs, summariesMs, changes: indexed.length, refolded: load.refolded }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
