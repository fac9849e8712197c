// An agent that floods its output while the transcript's disk is slow: the runner stops
// reading (the agent blocks on its full pipe) while the sink is backlogged, instead of
// holding the whole flood in memory, and every line still reaches the transcript in order.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Redactor } from '../../../src/backends/redact';
import { runProcess } from '../../../src/backends/runner';
import { jsonLinesSink } from '../../../src/backends/transcriptSink';
import { decodeTranscriptLine } from '../../../src/core/transcriptLines';

/** A disk that takes 5 ms per write, noting the most bytes ever waiting in front of it. */
function slowDisk() {
  const chunks: Buffer[] = [];
  let mostWaiting = 0;
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      mostWaiting = Math.max(mostWaiting, out.writableLength);
      chunks.push(chunk);
      setTimeout(done, 5);
    },
  });
  return { out, chunks, mostWaiting: () => mostWaiting };
}

const LINES = 40_000;
/** About 10 MB: 40,000 lines of 250 bytes, written as fast as the pipe takes them. */
const FLOOD = `const line = JSON.stringify({ type: 'text', text: 'x'.repeat(220) }); for (let i = 0; i < ${LINES}; i++) process.stdout.write(line.replace('xxxx', String(i).padStart(5, '0')) + '\\n');`;

describe('back-pressure from the transcript', function () {
  this.timeout(60_000);

  it('stops reading a flooding agent while the transcript is backlogged, and loses no line', async () => {
    const disk = slowDisk();
    const backlog = 512 * 1024;
    const sink = jsonLinesSink(disk.out, 64 * 1024, backlog);
    let seen = 0;
    const proc = runProcess({ command: process.execPath, args: ['-e', FLOOD], cwd: process.cwd(), env: process.env, redactor: new Redactor([]), sink, onStdoutLine: () => void seen++ });
    const exit = await proc.exit;
    await sink.close();
    assert.equal(exit.exitCode, 0);
    assert.equal(seen, LINES);
    // Without back-pressure the whole 10 MB waits in front of the disk; with it, about the backlog.
    assert.ok(disk.mostWaiting() < 2 * backlog, `at most ${disk.mostWaiting()} bytes waited for the disk (backlog ${backlog})`);
    const entries = Buffer.concat(disk.chunks).toString('utf8').trim().split('\n').slice(1).map((l) => decodeTranscriptLine(l));
    assert.equal(entries.length, LINES);
    entries.forEach((entry, i) => assert.ok(entry && 'line' in entry && entry.line.includes(String(i).padStart(5, '0')), `line ${i} in order`));
  });

  it('a consumer that paused the output keeps it paused while the transcript catches up', async () => {
    const disk = slowDisk();
    const sink = jsonLinesSink(disk.out, 64 * 1024, 256 * 1024);
    let seen = 0;
    let held: Promise<number> | undefined;
    const proc = runProcess({
      command: process.execPath,
      args: ['-e', FLOOD],
      cwd: process.cwd(),
      env: process.env,
      redactor: new Redactor([]),
      sink,
      onStdoutLine: () => {
        if (++seen !== 5_000) return;
        // Mid-flood, with the transcript behind: the consumer holds the output for 300 ms,
        // long enough for the disk to catch up and the transcript to let go of its own hold.
        proc.pauseOutput();
        held = new Promise((resolve) =>
          setTimeout(() => {
            const readMeanwhile = seen - 5_000;
            proc.resumeOutput();
            resolve(readMeanwhile);
          }, 300),
        );
      },
    });
    const exit = await proc.exit;
    await sink.close();
    const readWhileHeld = await held!;
    assert.equal(exit.exitCode, 0);
    assert.equal(seen, LINES);
    // What was already read from the pipe in that chunk is parsed; nothing after it.
    assert.ok(readWhileHeld < 1_000, `${readWhileHeld} lines were read while the consumer held the output`);
  });
});
