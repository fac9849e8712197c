// The summary index opened in fresh processes (bench/support/openIndex.ts), as a window
// opens it: its read + JSON.parse, the decoding alone, the store's open (readIndexFile), every field
// of every summary read, and the first summaries(); medians of `runs` processes each,
// wall and CPU time. Then the ratio against the goal (≤ 1.5× its own read + parse) and
// the bytes per change. Shared by bench/record.ts and bench/indexOpen.ts (which runs
// only this part, on an index built once).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import type { Timing } from './openIndex';

interface Open {
  pipeline: Timing;
  raw: Timing;
  index: Timing;
  allRows: Timing;
  summaries: Timing;
  changes: number;
  refolded: number;
}

function runOpen(root: string, ...args: string[]): unknown {
  // The caller's environment is passed on (FACTORY_COCKPIT_CACHE_DIR says where the index is).
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(__dirname, 'openIndex.ts'), root, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianOf = (ts: Timing[]): Timing => ({ ms: median(ts.map((t) => t.ms)), cpu: median(ts.map((t) => t.cpu)) });

export function reportIndexOpen(root: string, indexPath: string, runs: number, line: (label: string, ms: number, extra?: string) => void): void {
  const opens = Array.from({ length: runs }, () => runOpen(root) as Open);
  const decode = medianOf(Array.from({ length: runs }, () => (runOpen(root, '--decode-only') as { decode: Timing }).decode));
  const of = (key: 'pipeline' | 'raw' | 'index' | 'allRows' | 'summaries') => medianOf(opens.map((o) => o[key]));
  const cpu = (t: Timing, extra = '') => [`cpu ${t.cpu.toFixed(1)} ms`, extra].filter(Boolean).join('  ');
  const { changes, refolded } = opens[0]!;
  const bytesPerChange = (statSync(indexPath).size / changes).toFixed(0);
  const m = `median of ${runs}`;
  const [raw, index, allRows] = [of('raw'), of('index'), of('allRows')];
  line(`fresh process: first loadPipeline() (${m})`, of('pipeline').ms, cpu(of('pipeline'), 'zod compiles its schemas on first use'));
  line(`fresh process: read + JSON.parse of the index (${m})`, raw.ms, cpu(raw));
  line(`fresh process: decodeIndex() alone, on that parse (${m})`, decode.ms, cpu(decode, 'check, build what the store keeps: in code not yet compiled'));
  line(`fresh process: the store's open, readIndexFile() (${m})`, index.ms, cpu(index, `${changes} summaries (goal well under 100 ms)`));
  line(`fresh process: then every field of every summary (${m})`, allRows.ms, cpu(allRows, 'what a list of all changes (Switch Change) reads'));
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(
    `summary index open: ${ratio(index.ms, raw.ms)} its own read + JSON.parse in a fresh process (cpu ${ratio(index.cpu, raw.cpu)}); ` +
      `${ratio(index.ms + allRows.ms, raw.ms)} with every field read (cpu ${ratio(index.cpu + allRows.cpu, raw.cpu)}) ` +
      `(goal ≤ 1.5×; medians of ${runs}; ${bytesPerChange} bytes per change)`,
  );
  line(`fresh process: summaries(), index + a stat per change (${m})`, of('summaries').ms, cpu(of('summaries'), `${refolded} refolded`));
}
