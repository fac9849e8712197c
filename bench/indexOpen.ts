// The summary index's open on its own (issue 22), quickly: the index part of
// bench/record.ts without the rest of it. The index of the cached 10,000-change record
// is built once (folding every change, about a minute) and kept beside the record, per
// index schema version; each run then only opens it in fresh processes.
//   node --import tsx bench/indexOpen.ts [runs] [changes]
import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchCacheRoot, cachedBenchRecord } from './support/benchRecord';
import { reportIndexOpen } from './support/indexOpenReport';
import { CACHE_DIR_ENV } from '../src/store/cacheDir';
import { FileRecordStore } from '../src/store/recordStore';
import { INDEX_SCHEMA_VERSION } from '../src/store/summaryIndex';

const RUNS = Number(process.argv[2] ?? 9);
const CHANGES = Number(process.argv[3] ?? 10_000);
const EVENTS_PER_CHANGE = 50;

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}

async function main(): Promise<void> {
  const { root } = cachedBenchRecord({ changes: CHANGES, eventsPerChange: EVENTS_PER_CHANGE });
  // Kept between runs (never the user's cache): one folder per index version and record
  // size; those of other index versions are of no use any more.
  for (const name of readdirSync(benchCacheRoot())) {
    if (/^index-v\d+-/.test(name) && !name.startsWith(`index-v${INDEX_SCHEMA_VERSION}-`)) rmSync(path.join(benchCacheRoot(), name), { recursive: true, force: true });
  }
  process.env[CACHE_DIR_ENV] = path.join(benchCacheRoot(), `index-v${INDEX_SCHEMA_VERSION}-${CHANGES}x${EVENTS_PER_CHANGE}`);
  const store = new FileRecordStore(root);
  if (!existsSync(store.indexPath)) {
    const start = performance.now();
    const load = await store.summaries();
    line('summaries(): build the index once (folds every change)', performance.now() - start, `${load.refolded} folded, kept in ${path.dirname(store.indexPath)}`);
  }
  console.log(`Summary index of ${CHANGES} changes × ${EVENTS_PER_CHANGE} events, opened in fresh processes`);
  reportIndexOpen(root, store.indexPath, RUNS, line);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
