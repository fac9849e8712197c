// How fast the cockpit reads an agent's stream-json transcript, against jq and against
// the floor (a bare loop that only splits lines and JSON.parse's them), and how much
// memory it takes. Generates a 100 MB Claude Code transcript from the captured shape
// (test/fixtures/agents/claude-code/success-partial.jsonl). Prints numbers; never fails.
//   npx tsx bench/transcript-parse.ts [--mb 100]
// Each measurement runs in a fresh Node process so memory deltas do not mix.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliBackend, type CliPreset } from '../src/backends/cliBackend';
import { LineSplitter } from '../src/backends/lineSplitter';
import { createClaudeCodeParser } from '../src/backends/parsers/claudeCode';
import { claudeCodePreset } from '../src/backends/presets';
import { Redactor } from '../src/backends/redact';
import { DEFAULT_PRICES, UsageMeter } from '../src/backends/usageMeter';

const here = path.dirname(fileURLToPath(import.meta.url));
const SECRETS = ['sk-ant-api03-0123456789abcdefghijklmnop', 'ghp_0123456789abcdefghij'];
const MiB = 1024 * 1024;

type Measure = { seconds: number; rssDeltaMB: number; heapDeltaMB: number; lines: number; events?: number };

function memorySampler() {
  const start = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - start.rss);
    heap = Math.max(heap, m.heapUsed - start.heapUsed);
  };
  const timer = setInterval(sample, 25);
  return () => {
    clearInterval(timer);
    sample();
    return { rssDeltaMB: rss / MiB, heapDeltaMB: heap / MiB };
  };
}

/** The floor: split lines (on bytes, the fastest way in Node) and JSON.parse, nothing else. */
async function bare(file: string): Promise<Measure> {
  const stop = memorySampler();
  const t0 = process.hrtime.bigint();
  let rest: Buffer | undefined;
  let lines = 0;
  for await (const raw of createReadStream(file, { highWaterMark: 64 * 1024 })) {
    const chunk = rest ? Buffer.concat([rest, raw as Buffer]) : (raw as Buffer);
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (nl > start) {
        JSON.parse(chunk.toString('utf8', start, nl));
        lines++;
      }
      start = nl + 1;
    }
    rest = start < chunk.length ? chunk.subarray(start) : undefined;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, lines, ...stop() };
}

/** Ours, in process: bounded line splitter → redaction → transcript sink → parser → usage meter. */
async function ours(file: string): Promise<Measure> {
  const stop = memorySampler();
  const t0 = process.hrtime.bigint();
  const redactor = new Redactor(SECRETS);
  const parser = createClaudeCodeParser({ cwd: '/workspace/project' });
  const meter = new UsageMeter(DEFAULT_PRICES);
  let recorded = 0;
  let lines = 0;
  let events = 0;
  const sink = { write: (entry: { line: string }) => (recorded += entry.line.length) };
  const splitter = new LineSplitter({
    maxLineBytes: 4 * MiB,
    onLine: (raw, cut) => {
      const line = redactor.redact(raw);
      sink.write({ line });
      lines++;
      for (const event of parser.parse(line, cut)) {
        events++;
        if (event.kind === 'usage') meter.add(event);
      }
    },
  });
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) splitter.push(chunk as Buffer);
  splitter.end();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (recorded === 0) throw new Error('nothing recorded');
  return { seconds, lines, events, ...stop() };
}

/** The whole backend path: a real process (`cat`) piping the transcript, events consumed with for-await. */
async function backend(file: string): Promise<Measure> {
  const stop = memorySampler();
  const t0 = process.hrtime.bigint();
  const preset: CliPreset = { ...claudeCodePreset, executable: 'cat', buildInvocation: () => ({ args: [file] }) };
  let recorded = 0;
  let lines = 0;
  const run = new CliBackend(preset, { maxOutputBytes: 1024 * MiB }).start({
    prompt: 'bench',
    cwd: os.tmpdir(),
    env: { PATH: process.env.PATH, BENCH_API_KEY: SECRETS[0] },
    sink: { write: (e) => ((recorded += e.line.length), lines++) },
  });
  let events = 0;
  for await (const _ of run) events++;
  const result = await run.result;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (result.outcome !== 'succeeded' || recorded === 0) console.error(`backend run: ${result.outcome} ${result.reason ?? ''}`);
  return { seconds, lines, events, ...stop() };
}

async function generate(file: string, megabytes: number): Promise<void> {
  const template = readFileSync(path.join(here, '../test/fixtures/agents/claude-code/success-partial.jsonl'), 'utf8').split('\n').filter(Boolean);
  const body = template.slice(1, -1);
  const out = createWriteStream(file);
  const write = (line: string) => (out.write(line + '\n') ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(template[0] as string);
  let bytes = 0;
  for (let round = 0; bytes < megabytes * MiB; round++) {
    for (const line of body) {
      // Unique ids per round, and some longer text so lines vary like a real session.
      const next = line.replace(/msg_mock_(\d)/g, `msg_${round}_$1`).replace(/toolu_mock_(\w+)/g, `toolu_${round}_$1`).replace('Done: I read README.md', `Done (${round}): I read README.md ${'and more '.repeat(round % 40)}`);
      bytes += next.length + 1;
      await write(next);
    }
  }
  await write(template.at(-1) as string);
  await new Promise<void>((resolve) => out.end(resolve));
}

function runWorker(kind: string, file: string): Measure | undefined {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', kind, file], { encoding: 'utf8', maxBuffer: 16 * MiB });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Measure;
  } catch {
    console.log(`${kind}: could not measure (${child.stderr.trim().split('\n').at(-1) ?? child.status})`);
    return undefined;
  }
}

function jq(file: string): number | string {
  const found = spawnSync('jq', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) return 'jq is not installed (apt-get install jq); skipped';
  const t0 = process.hrtime.bigint();
  const run = spawnSync('jq', ['-c', '.', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.status !== 0) return `jq failed: ${run.stderr?.toString().trim()}`;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--worker') {
    const [, kind, file] = args as [string, string, string];
    const fn = kind === 'bare' ? bare : kind === 'ours' ? ours : backend;
    console.log(JSON.stringify(await fn(file)));
    return;
  }
  const mbIndex = args.indexOf('--mb');
  const megabytes = mbIndex >= 0 ? Number(args[mbIndex + 1]) : 100;
  const file = path.join(os.tmpdir(), `factory-bench-claude-${process.pid}.jsonl`);
  try {
    console.log(`generating a ${megabytes} MB Claude Code stream-json transcript…`);
    await generate(file, megabytes);
    const size = statSync(file).size / MiB;
    const rate = (seconds: number) => `${(size / seconds).toFixed(1)} MB/s`;
    const results: [string, Measure | undefined][] = [
      ['bare loop (split + JSON.parse)', runWorker('bare', file)],
      ['ours: split+redact+record+parse', runWorker('ours', file)],
      ['ours: full backend via a process', runWorker('backend', file)],
    ];
    const jqTime = jq(file);
    console.log(`\ntranscript: ${size.toFixed(1)} MB, ${results[0]?.[1]?.lines ?? '?'} lines\n`);
    console.log('what'.padEnd(36) + 'time'.padStart(9) + 'throughput'.padStart(13) + 'peak RSS Δ'.padStart(13) + 'peak heap Δ'.padStart(13));
    for (const [name, m] of results) {
      if (!m) continue;
      console.log(name.padEnd(36) + `${m.seconds.toFixed(2)}s`.padStart(9) + rate(m.seconds).padStart(13) + `${m.rssDeltaMB.toFixed(1)} MB`.padStart(13) + `${m.heapDeltaMB.toFixed(1)} MB`.padStart(13));
    }
    if (typeof jqTime === 'number') console.log('jq -c . > /dev/null'.padEnd(36) + `${jqTime.toFixed(2)}s`.padStart(9) + rate(jqTime).padStart(13));
    else console.log(`jq: ${jqTime}`);
    const floor = results[0]?.[1];
    const mine = results[1]?.[1];
    if (floor && mine) {
      console.log(`\nours vs bare loop: ${((floor.seconds / mine.seconds) * 100).toFixed(0)}% of the floor's throughput (goal ≥ 70%)`);
      if (typeof jqTime === 'number') console.log(`ours vs jq: ${(jqTime / mine.seconds).toFixed(2)}× jq's throughput (goal > 1×)`);
      console.log(`ours peak extra memory: ${mine.rssDeltaMB.toFixed(1)} MB RSS (goal ≤ 64 MB)`);
    }
  } finally {
    rmSync(file, { force: true });
  }
}

void main();
