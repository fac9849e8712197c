// What the record costs in git per attempt: the transcript of a 10 MB agent run is
// recorded as the engine records it (runner output pipeline → JSON-lines sink), stored
// as evidence (gzip of the content, issue #22) and committed. Prints the committed bytes
// per attempt (git's object on disk, loose and after a repack) next to the transcript's
// own size, its gzip size, and the same transcripts stored uncompressed as before.
// Prints numbers; never fails.
//   node --import tsx bench/evidence-size.ts [--mb 10] [--attempts 3] [--repetitive]
// (--repetitive: the template's text repeated, as the parse bench uses; compresses ~80×.)
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Redactor } from '../src/backends/redact';
import { outputLines } from '../src/backends/runner';
import { jsonLinesSink } from '../src/backends/transcriptSink';
import { FileEvidenceStore } from '../src/store/evidence';
import { generateClaudeTranscript } from './support/claudeTranscript';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const megabytes = option('--mb', 10);
const attempts = option('--attempts', 3);

const git = (cwd: string, ...argv: string[]) => execFileSync('git', argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function newRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  git(dir, 'config', 'user.email', 'bench@example.com');
  git(dir, 'config', 'user.name', 'bench');
  git(dir, 'config', 'gc.auto', '0');
  return dir;
}

/** Bytes git keeps on disk for the blobs under `folder` at HEAD. */
function objectBytes(repo: string, folder: string): number {
  const oids = git(repo, 'ls-tree', '-r', '--object-only', 'HEAD', folder).split('\n').filter(Boolean);
  const sizes = execFileSync('git', ['cat-file', '--batch-check=%(objectsize:disk)'], { cwd: repo, input: `${oids.join('\n')}\n`, encoding: 'utf8' });
  return sizes.split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
}

/** The agent's stdout recorded the way an attempt records it. */
async function record(agentOutput: string, transcript: string): Promise<void> {
  const sink = jsonLinesSink(createWriteStream(transcript));
  const output = outputLines({ redactor: new Redactor(['sk-ant-api03-0123456789abcdefghijklmnop']), sink, maxOutputBytes: 1024 * MiB, onStdoutLine: () => undefined });
  for await (const chunk of createReadStream(agentOutput)) output.stdout.push(chunk as Buffer);
  output.stdout.end();
  await sink.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'factory-bench-evidence-'));
  try {
    const compressedRepo = newRepo(path.join(dir, 'compressed'));
    const plainRepo = newRepo(path.join(dir, 'plain'));
    const store = new FileEvidenceStore(compressedRepo);
    const rows: { transcript: number; gzip: number; stored: number; loose: number; plainLoose: number; putMs: number }[] = [];
    for (let i = 0; i < attempts; i++) {
      const agentOutput = path.join(dir, `agent-${i}.jsonl`);
      const transcript = path.join(dir, `transcript-${i}.jsonl`);
      await generateClaudeTranscript(agentOutput, megabytes, i * 100_000, !args.includes('--repetitive'));
      await record(agentOutput, transcript);
      const started = process.hrtime.bigint();
      const ref = await store.put(createReadStream(transcript), { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
      const putMs = Number(process.hrtime.bigint() - started) / 1e6;
      git(compressedRepo, 'add', '.factory/evidence');
      git(compressedRepo, 'commit', '-qm', `attempt ${i}`);
      // Before issue #22 the store kept the content itself at the same path.
      const plainFile = path.join(plainRepo, '.factory', 'evidence', ref.sha256.slice(0, 2), ref.sha256.slice(2));
      mkdirSync(path.dirname(plainFile), { recursive: true });
      copyFileSync(transcript, plainFile);
      git(plainRepo, 'add', '.factory/evidence');
      git(plainRepo, 'commit', '-qm', `attempt ${i}`);
      rows.push({
        transcript: statSync(transcript).size,
        gzip: gzipSync(readFileSync(transcript)).length,
        stored: statSync(path.join(compressedRepo, store.pathOf(ref))).size,
        loose: objectBytes(compressedRepo, '.factory/evidence') - rows.reduce((sum, r) => sum + r.loose, 0),
        plainLoose: objectBytes(plainRepo, '.factory/evidence') - rows.reduce((sum, r) => sum + r.plainLoose, 0),
        putMs,
      });
      rmSync(agentOutput);
      rmSync(transcript);
    }
    git(compressedRepo, 'repack', '-adq');
    git(plainRepo, 'repack', '-adq');
    const packed = objectBytes(compressedRepo, '.factory/evidence') / attempts;
    const plainPacked = objectBytes(plainRepo, '.factory/evidence') / attempts;

    const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
    console.log(`${attempts} attempts, each a ${megabytes} MB Claude Code run (${args.includes('--repetitive') ? 'repeated' : 'pseudo-prose'} text) recorded as its transcript\n`);
    console.log('attempt'.padEnd(9) + 'transcript'.padStart(12) + 'its gzip'.padStart(11) + 'stored file'.padStart(13) + 'committed (loose)'.padStart(19) + 'uncompressed store, loose'.padStart(27) + 'put'.padStart(9));
    rows.forEach((r, i) => console.log(`${i + 1}`.padEnd(9) + kb(r.transcript).padStart(12) + kb(r.gzip).padStart(11) + kb(r.stored).padStart(13) + kb(r.loose).padStart(19) + kb(r.plainLoose).padStart(27) + `${r.putMs.toFixed(0)} ms`.padStart(9)));
    const mean = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((sum, r) => sum + pick(r), 0) / rows.length;
    console.log(`\ncommitted bytes per attempt: ${kb(mean((r) => r.loose))} loose, ${kb(packed)} after git repack`);
    console.log(`  = ${((mean((r) => r.loose) / mean((r) => r.transcript)) * 100).toFixed(1)}% of the transcript's own size (${kb(mean((r) => r.transcript))}), ${(mean((r) => r.loose) / mean((r) => r.gzip)).toFixed(2)}× its gzip size (${kb(mean((r) => r.gzip))})`);
    console.log(`the same transcripts stored uncompressed (before): ${kb(mean((r) => r.plainLoose))} loose (git zlib-compresses loose objects), ${kb(plainPacked)} after git repack (deltas between attempts)`);
    console.log(`working-tree size of the evidence per attempt: ${kb(mean((r) => r.stored))} now, ${kb(mean((r) => r.transcript))} before`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
