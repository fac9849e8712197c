// How fast the cockpit reads an agent's stream-json transcript, against jq and against
// the floor (a bare loop that only splits lines and JSON.parse's them), and how much
// memory it takes. Generates a 100 MB Claude Code transcript from the captured shape
// (test/fixtures/agents/claude-code/success-partial.jsonl). Prints numbers; never fails.
//   npx tsx bench/transcript-parse.ts [--mb 100] [--repeat 3] [--file kept.jsonl (generated there once, then reused)]
// Each measurement runs in a fresh Node process so memory deltas do not mix.
// Run: node --import tsx bench/transcript-parse.ts [options]
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { createReadStream, createWriteStream, existsSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliBackend, type CliPreset } from '../src/backends/cliBackend';
import { outputLines } from '../src/backends/runner';
import { jsonLinesSink } from '../src/backends/transcriptSink';
import { parseAgentEvent } from '../src/core/agentEvents';
import { createClaudeCodeParser } from '../src/backends/parsers/claudeCode';
import { claudeCodePreset } from '../src/backends/presets';
import { Redactor } from '../src/backends/redact';
import { DEFAULT_PRICES, UsageMeter } from '../src/backends/usageMeter';
import { generateClaudeTranscript as generate } from './support/claudeTranscript';

const SECRETS = ['sk-ant-api03-0123456789abcdefghijklmnop', 'ghp_0123456789abcdefghij'];
const MiB = 1024 * 1024;

type Measure = { seconds: number; cpuSeconds: number; systemSeconds: number; rssDeltaMB: number; heapDeltaMB: number; lines: number; events?: number; recordedBytes?: number };

/** Wall time, CPU time (all threads: user + system, and system alone: the kernel's part, such as copying writes) and peak memory from now on. */
function sampler() {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
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
    const cpu = process.cpuUsage(cpu0);
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, systemSeconds: cpu.system / 1e6, rssDeltaMB: rss / MiB, heapDeltaMB: heap / MiB };
  };
}

/**
 * The floor: split lines (on bytes, the fastest way in Node) and JSON.parse, nothing else.
 * `writing`: the floor also writes each chunk it reads to a file, as it comes: not a goal,
 * a reference for the recording step (the least any transcript costs is writing its bytes).
 */
async function bare(file: string, writing = false): Promise<Measure> {
  const stop = sampler();
  const copyFile = `${file}.copy-${process.pid}`;
  const copy = writing ? createWriteStream(copyFile) : undefined;
  let rest: Buffer | undefined;
  let lines = 0;
  for await (const raw of createReadStream(file, { highWaterMark: 64 * 1024 })) {
    copy?.write(raw as Buffer);
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
  if (copy) await new Promise<void>((resolve) => copy.end(() => resolve()));
  const measured = stop();
  const recordedBytes = copy ? statSync(copyFile).size : undefined;
  rmSync(copyFile, { force: true });
  return { lines, ...(recordedBytes !== undefined ? { recordedBytes } : {}), ...measured };
}

/**
 * The real path in process, one step more per run: the runner's own output pipeline
 * (runner.ts outputLines: split → redact → JSON.parse of a JSON line, once → cap → sink)
 * fed the file instead of a pipe, the sink writing the transcript file as the engine
 * does (stageRunner: one JSON entry a line; a JSON line is copied, not escaped), the
 * preset's parser (given the runner's parsed value) with the usage meter, and, last,
 * schema validation of every event (which the real path does not do: parsers build
 * typed events; it is measured so its price is known). The difference between two runs
 * is the cost of the step added.
 */
const STEPS = ['split', 'redact', 'record', 'parse', 'validate'] as const;
type Step = (typeof STEPS)[number];

async function ours(file: string, upTo: Step): Promise<Measure> {
  const has = (step: Step) => STEPS.indexOf(step) <= STEPS.indexOf(upTo);
  // Asked once, not per line: the bench's own bookkeeping must not count as the path's cost.
  const parsing = has('parse');
  const validating = has('validate');
  const stop = sampler();
  const parser = createClaudeCodeParser({ cwd: '/workspace/project' });
  const meter = new UsageMeter(DEFAULT_PRICES);
  const transcriptFile = `${file}.transcript-${process.pid}.jsonl`;
  const transcript = has('record') ? jsonLinesSink(createWriteStream(transcriptFile)) : undefined;
  let lines = 0;
  let events = 0;
  let invalid = 0;
  const output = outputLines({
    maxOutputBytes: 1024 * MiB,
    redactor: new Redactor(has('redact') ? SECRETS : []),
    ...(transcript ? { sink: transcript } : {}),
    onStdoutLine: (line, cut, _overCap, value) => {
      lines++;
      if (!parsing) return;
      for (const event of parser.parse(line, cut, value)) {
        events++;
        if (event.kind === 'usage') meter.add(event);
        if (validating && !parseAgentEvent(event).ok) invalid++;
      }
    },
  });
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) output.stdout.push(chunk as Buffer);
  output.stdout.end();
  await transcript?.close();
  const measured = stop();
  const recordedBytes = transcript ? statSync(transcriptFile).size : 0;
  rmSync(transcriptFile, { force: true });
  if (invalid) throw new Error(`${invalid} events failed validation`);
  return { lines, events, recordedBytes, ...measured };
}

/** The whole backend path: a real process (`cat`) piping the transcript, events consumed with for-await. */
async function backend(file: string): Promise<Measure> {
  const stop = sampler();
  const preset: CliPreset = { ...claudeCodePreset, executable: 'cat', buildInvocation: () => ({ args: [file] }) };
  const transcriptFile = `${file}.transcript-${process.pid}.jsonl`;
  const transcript = jsonLinesSink(createWriteStream(transcriptFile));
  let lines = 0;
  const run = new CliBackend(preset, { maxOutputBytes: 1024 * MiB }).start({
    prompt: 'bench',
    cwd: os.tmpdir(),
    env: { PATH: process.env.PATH, BENCH_API_KEY: SECRETS[0] },
    // Counts the lines and passes them on as the engine's sink gets them (bytes when it can).
    sink: { write: (entry) => (lines++, transcript.write(entry)), writeUtf8: (...line) => (lines++, transcript.writeUtf8(...line)) },
  });
  let events = 0;
  for await (const _ of run) events++;
  const result = await run.result;
  await transcript.close();
  const measured = stop();
  const recordedBytes = statSync(transcriptFile).size;
  rmSync(transcriptFile, { force: true });
  if (result.outcome !== 'succeeded' || recordedBytes === 0) console.error(`backend run: ${result.outcome} ${result.reason ?? ''}`);
  return { lines, events, recordedBytes, ...measured };
}

/**
 * The workers run this file bundled by esbuild as the extension ships (no tsx, whose
 * keep-names wrappers cost time on hot closures), into a temp file: dist/ is not touched.
 */
let bundled: string | undefined;
function workerScript(): string {
  if (bundled) return bundled;
  bundled = path.join(os.tmpdir(), `factory-bench-transcript-${process.pid}.mjs`);
  buildSync({
    entryPoints: [fileURLToPath(import.meta.url)],
    outfile: bundled,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    // CommonJS dependencies bundled into ESM still call require.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return bundled;
}

function runWorker(kind: string, file: string): Measure | undefined {
  const child = spawnSync(process.execPath, [workerScript(), '--worker', kind, file], { encoding: 'utf8', maxBuffer: 16 * MiB });
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
  const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  if (args[0] === '--worker') {
    const [, kind, file] = args as [string, string, string];
    const step = STEPS.find((s) => s === kind);
    const measuring = kind === 'bare' || kind === 'bare-writing' ? bare(file, kind === 'bare-writing') : step ? ours(file, step) : backend(file);
    console.log(JSON.stringify(await measuring));
    return;
  }
  const megabytes = Number(option('--mb') ?? 100);
  // Every measurement runs this many times, interleaved; the best of each counts (the machine
  // is shared: one run of a step swung its cost by more than the step itself).
  const repeat = Math.max(1, Number(option('--repeat') ?? 3));
  const given = option('--file');
  const file = given ?? path.join(os.tmpdir(), `factory-bench-claude-${process.pid}.jsonl`);
  try {
    if (!given || !existsSync(given)) {
      console.log(`generating a ${megabytes} MB Claude Code stream-json transcript…`);
      await generate(file, megabytes);
    }
    const size = statSync(file).size / MiB;
    const rate = (seconds: number) => `${(size / seconds).toFixed(1)} MB/s`;
    // CPU time (user + system, all threads) is what the path costs; wall time swings with the load of a shared machine.
    const best = (runs: (Measure | undefined)[]) => runs.filter((m): m is Measure => !!m).sort((a, b) => a.cpuSeconds - b.cpuSeconds)[0];
    const kinds = ['bare', ...STEPS, 'bare-writing', 'backend'];
    const runs = new Map<string, (Measure | undefined)[]>(kinds.map((kind) => [kind, []]));
    for (let i = 0; i < repeat; i++) for (const kind of kinds) runs.get(kind)?.push(runWorker(kind, file));
    const bestOf = (kind: string) => best(runs.get(kind) ?? []);
    const floor = bestOf('bare');
    const steps = new Map<Step, Measure | undefined>(STEPS.map((step) => [step, bestOf(step)]));
    const floorWriting = bestOf('bare-writing');
    const viaProcess = bestOf('backend');
    const jqTime = jq(file);

    console.log(`\ntranscript: ${size.toFixed(1)} MB, ${floor?.lines ?? '?'} lines; best of ${repeat} runs of each; load average ${os.loadavg()[0]?.toFixed(1)}\n`);
    console.log('what'.padEnd(46) + 'wall'.padStart(7) + 'CPU'.padStart(7) + 'sys'.padStart(7) + 'step CPU'.padStart(10) + 'CPU rate'.padStart(13) + 'peak RSS Δ'.padStart(12) + 'peak heap Δ'.padStart(13));
    const row = (name: string, m: Measure | undefined, stepSeconds?: number) => {
      if (!m) return console.log(`${name.padEnd(46)}could not measure`);
      const step = stepSeconds === undefined ? '' : `${stepSeconds >= 0 ? '+' : ''}${stepSeconds.toFixed(2)}s`;
      console.log(name.padEnd(46) + `${m.seconds.toFixed(2)}s`.padStart(7) + `${m.cpuSeconds.toFixed(2)}s`.padStart(7) + `${m.systemSeconds.toFixed(2)}s`.padStart(7) + step.padStart(10) + rate(m.cpuSeconds).padStart(13) + `${m.rssDeltaMB.toFixed(1)} MB`.padStart(12) + `${m.heapDeltaMB.toFixed(1)} MB`.padStart(13));
    };
    row('floor: bare split + JSON.parse', floor);
    const labels: Record<Step, string> = {
      split: 'path: split + JSON.parse (runner.ts outputLines)',
      redact: '  + redaction (2 secrets)',
      record: '  + recording (transcript entries to a file)',
      parse: '  + events (Claude Code parser, usage meter)',
      validate: '  + event validation (not in the real path)',
    };
    let previous = 0;
    for (const step of STEPS) {
      const m = steps.get(step);
      row(labels[step], m, m ? m.cpuSeconds - previous : undefined);
      if (m) previous = m.cpuSeconds;
    }
    row('floor + writing what it read (reference)', floorWriting, floor && floorWriting ? floorWriting.cpuSeconds - floor.cpuSeconds : undefined);
    row('full backend via a process (cat | CliBackend)', viaProcess);
    if (typeof jqTime === 'number') console.log('jq -c . > /dev/null (wall)'.padEnd(46) + `${jqTime.toFixed(2)}s`.padStart(7) + ''.padStart(24) + rate(jqTime).padStart(13));
    else console.log(`jq: ${jqTime}`);
    const real = steps.get('parse');
    if (floor && real) {
      const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
      console.log(`\nreal path (split+redact+record+parse) vs floor: ${pct(floor.cpuSeconds, real.cpuSeconds)} of the floor's throughput in CPU time, ${pct(floor.seconds, real.seconds)} in wall time (goal ≥ 70%)`);
      const noRecord = steps.get('redact');
      if (noRecord) {
        const parseOnly = real.cpuSeconds - ((steps.get('record')?.cpuSeconds ?? real.cpuSeconds) - noRecord.cpuSeconds);
        console.log(`  without recording (split+redact+parse): ${pct(floor.cpuSeconds, parseOnly)} in CPU time (recording costs what encoding and writing ${((real.recordedBytes ?? 0) / MiB).toFixed(0)} MB costs)`);
      }
      const record = steps.get('record');
      if (noRecord && record) {
        const user = (m: Measure) => m.cpuSeconds - m.systemSeconds;
        console.log(`  recording's CPU: +${(record.systemSeconds - noRecord.systemSeconds).toFixed(2)}s system (the kernel copying the writes), +${(user(record) - user(noRecord)).toFixed(2)}s user (the sink's per-line copy and the stream)`);
      }
      // The floor writes nothing, the path must record: this says how much of the gap is the write itself.
      if (floorWriting) console.log(`  the floor writing its ${((floorWriting.recordedBytes ?? 0) / MiB).toFixed(0)} MB to a file as well: ${pct(floorWriting.cpuSeconds, real.cpuSeconds)} of its throughput in CPU time (a reference, not the goal)`);
      if (viaProcess) console.log(`full backend via a process vs floor: ${pct(floor.cpuSeconds, viaProcess.cpuSeconds)} in CPU time, ${pct(floor.seconds, viaProcess.seconds)} in wall time (adds the pipe, the event channel and its consumer)`);
      if (typeof jqTime === 'number') console.log(`real path vs jq: ${(jqTime / real.seconds).toFixed(2)}× jq's throughput in wall time (goal > 1×)`);
      console.log(`real path peak memory: ${real.rssDeltaMB.toFixed(1)} MB RSS over its start, ${(real.rssDeltaMB - floor.rssDeltaMB).toFixed(1)} MB over the floor's peak (${floor.rssDeltaMB.toFixed(1)} MB; goal ≤ 64 MB extra)`);
    }
  } finally {
    if (!given) rmSync(file, { force: true });
    if (bundled) rmSync(bundled, { force: true });
  }
}

void main();
