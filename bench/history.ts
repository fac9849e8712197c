// The team's history from git at scale: every branch's record read through git objects,
// merged by change and folded into facts, against `git ls-tree` + `git cat-file --batch`
// reading the same objects by hand. Goal: the first read ≤ 2× the plumbing; a refresh
// where nothing moved, far less. Prints numbers; never fails on time.
//   node --expose-gc --import tsx bench/history.ts [changes] [branches] [weeks]     (default 10000 500 52, the issue's size)
// The generated repository is cached (keyed by the generator's version and the sizes)
// under ~/.cache/factory-cockpit-bench (FACTORY_BENCH_CACHE), so only the first run builds it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cachedSampleHistory } from '../scripts/sample-history';
import { createFactory } from '../src/engine/factory';
import { readTeamHistory } from '../src/engine/teamHistory';
import { FileRecordStore } from '../src/store/recordStore';

const CHANGES = Number(process.argv[2] ?? 10_000);
const BRANCHES = Number(process.argv[3] ?? 500);
const WEEKS = Number(process.argv[4] ?? 52);

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(62)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}
async function time<T>(label: string, fn: () => Promise<T> | T, extra?: (r: T) => string): Promise<{ ms: number; result: T }> {
  (globalThis as { gc?: () => void }).gc?.();
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  line(label, ms, extra?.(result));
  return { ms, result };
}

async function main(): Promise<void> {
  const built = await time(`sample history (${CHANGES} changes, ${BRANCHES} branches; cached after the first run)`, () =>
    cachedSampleHistory({ changes: CHANGES, branches: BRANCHES, weeks: WEEKS, now: Date.parse('2026-12-01T00:00:00Z'), writer: 'files', uncommitted: 0, seed: 17 }),
  );
  const dir = built.result.dir;
  const refs = execFileSync('git', ['for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/remotes'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
  console.log(`${refs.length} refs, ${built.result.events} events`);

  const plumbing = await time('by hand: ls-tree -r per ref + one cat-file --batch of every blob', () => {
    const oids = new Set<string>();
    for (const ref of refs) {
      const out = execFileSync('git', ['ls-tree', '-r', ref, '--', '.factory/changes'], { cwd: dir, encoding: 'utf8', maxBuffer: 2 ** 30 });
      for (const l of out.split('\n')) if (l) oids.add(l.split(/\s+/)[2]!);
    }
    const out = execFileSync('git', ['cat-file', '--batch'], { cwd: dir, input: [...oids].join('\n') + '\n', maxBuffer: 2 ** 31 - 1 });
    return { blobs: oids.size, bytes: out.length };
  }, (r) => `${r.blobs} blobs, ${(r.bytes / 1e6).toFixed(0)} MB`);

  const cache = mkdtempSync(path.join(os.tmpdir(), 'history-bench-'));
  try {
    const store = new FileRecordStore(dir, { cacheDir: cache });
    const pipeline = (await store.loadPipeline()).pipeline!;
    const input = { root: dir, pipeline, store, useGit: true, cacheRoot: cache };
    const cold = await time('team history, first read (merge by change, facts, committers)', () => readTeamHistory(input), (t) => `${t.facts.length} changes, ${t.stats.eventsRead} events read`);
    const warm = await time('team history, refresh with nothing moved', () => readTeamHistory(input), (t) => `${t.stats.refolded} re-read`);
    // The review's change picker lists other branches' changes from the same cache.
    process.env.FACTORY_COCKPIT_CACHE_DIR = cache;
    const factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
    await time('Review Change picker, after the team history was read', () => factory.review.listChanges(), (l) => `${l.length} changes, ${l.filter((c) => c.ref).length} only on other branches`);
    console.log(`\nfirst read: ${(cold.ms / plumbing.ms).toFixed(2)}× the plumbing by hand (goal ≤ 2×); refresh: ${(warm.ms / plumbing.ms).toFixed(2)}×`);
  } finally {
    delete process.env.FACTORY_COCKPIT_CACHE_DIR;
    rmSync(cache, { recursive: true, force: true });
  }
}

void main();
