// One "window opening" on an existing record, in a fresh process: how long the first
// index load and the first summaries() take. Prints one line of JSON for bench/record.ts.
//   node --import tsx bench/support/openIndex.ts <workspace>
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FileRecordStore } from '../../src/store/recordStore';

async function main(): Promise<void> {
  const root = process.argv[2];
  if (!root) throw new Error('usage: openIndex.ts <workspace>');
  // The window has read pipeline.json before it lists changes (and zod compiled its
  // schemas then): that first read is timed on its own.
  let start = performance.now();
  await new FileRecordStore(root).loadPipeline({ createIfMissing: false });
  const pipelineMs = performance.now() - start;
  // The floor: reading and parsing the same file, nothing checked or decoded.
  const store = new FileRecordStore(root);
  start = performance.now();
  JSON.parse(await readFile(store.indexPath, 'utf8'));
  const rawMs = performance.now() - start;
  start = performance.now();
  const indexed = await new FileRecordStore(root).indexedSummaries();
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
