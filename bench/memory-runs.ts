// Memory over many attempts (issue #22: nothing grows without bound; transcripts are
// streamed to evidence, not held). Runs 50 attempts in this process through the real
// backend path: CliBackend spawning a fake agent CLI (`cat` of a generated 10 MB Claude
// Code stream-json run), its events consumed as the engine consumes them, the transcript
// recorded with the engine's sink to a temp file and stored as evidence (gzip). After
// each attempt the heap is collected and measured. Prints numbers; never fails.
// Not the extension host: the stage runner around this (git snapshots, record events)
// holds nothing per transcript line, so the backend path and the store are what matter.
//   node --expose-gc --import tsx bench/memory-runs.ts [--runs 50] [--mb 10]
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliBackend, type CliPreset } from '../src/backends/cliBackend';
import { claudeCodePreset } from '../src/backends/presets';
import { jsonLinesSink } from '../src/backends/transcriptSink';
import type { AgentEvent } from '../src/core/agentEvents';
import { FileEvidenceStore } from '../src/store/evidence';
import { generateClaudeTranscript } from './support/claudeTranscript';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const runs = option('--runs', 50);
const megabytes = option('--mb', 10);

function collected(): { heapMB: number; rssMB: number; externalMB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapMB: m.heapUsed / MiB, rssMB: m.rss / MiB, externalMB: (m.external + m.arrayBuffers) / MiB };
}

/** One attempt as the stage runner runs it: backend events consumed, transcript recorded, then stored. */
async function attempt(backend: CliBackend, store: FileEvidenceStore, dir: string, n: number): Promise<{ outcome: string; peakHeapMB: number }> {
  const transcriptFile = path.join(dir, `transcript-${n}.jsonl`);
  const transcript = jsonLinesSink(createWriteStream(transcriptFile));
  const kept: AgentEvent[] = [];
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  const run = backend.start({ prompt: 'bench', cwd: dir, env: { PATH: process.env.PATH, BENCH_API_KEY: 'sk-ant-api03-0123456789abcdefghijklmnop' }, sink: transcript });
  // The stage runner keeps tool calls (for re-read detection) until the attempt is recorded.
  for await (const event of run.events) if (event.kind === 'toolStarted') kept.push(event);
  const result = await run.result;
  await transcript.close();
  await store.put(createReadStream(transcriptFile), { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
  rmSync(transcriptFile);
  clearInterval(sampler);
  return { outcome: result.outcome, peakHeapMB: peak / MiB };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'factory-bench-memory-'));
  try {
    const agentOutput = path.join(dir, 'agent.jsonl');
    await generateClaudeTranscript(agentOutput, megabytes);
    const preset: CliPreset = { ...claudeCodePreset, executable: 'cat', buildInvocation: () => ({ args: [agentOutput] }) };
    const backend = new CliBackend(preset, { maxOutputBytes: 1024 * MiB });
    const store = new FileEvidenceStore(dir);
    const before = collected();
    console.log(`${runs} attempts, each a ${megabytes} MB Claude Code stream-json run; heap after a full collection\n`);
    console.log('after'.padEnd(14) + 'heap'.padStart(10) + 'external'.padStart(11) + 'RSS'.padStart(10) + 'peak heap in the attempt'.padStart(26));
    const show = (label: string, m: ReturnType<typeof collected>, peak?: number) =>
      console.log(label.padEnd(14) + `${m.heapMB.toFixed(1)} MB`.padStart(10) + `${m.externalMB.toFixed(1)} MB`.padStart(11) + `${m.rssMB.toFixed(0)} MB`.padStart(10) + (peak === undefined ? '' : `${peak.toFixed(1)} MB`.padStart(26)));
    show('start', before);
    const heaps: number[] = [];
    const started = Date.now();
    for (let n = 1; n <= runs; n++) {
      const { outcome, peakHeapMB } = await attempt(backend, store, dir, n);
      if (outcome !== 'succeeded') console.log(`attempt ${n}: ${outcome}`);
      const m = collected();
      heaps.push(m.heapMB);
      if (n === 1 || n === 5 || n % 10 === 0) show(`attempt ${n}`, m, peakHeapMB);
    }
    const half = Math.floor(heaps.length / 2);
    const slope = heaps.length > 2 ? ((heaps.at(-1) as number) - (heaps[half] as number)) / (heaps.length - 1 - half) : 0;
    console.log(`\nheap growth: ${((heaps.at(-1) ?? 0) - before.heapMB).toFixed(1)} MB over ${runs} attempts (${((heaps.at(-1) ?? 0) - (heaps[0] ?? 0)).toFixed(1)} MB after the first); ${(slope * 1024).toFixed(0)} KB per attempt over the second half`);
    console.log(`${((Date.now() - started) / 1000 / runs).toFixed(2)} s per attempt; evidence files: ${(await store.list()).length} (all runs print the same bytes: one file)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
