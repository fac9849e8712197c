// The transcript sink's byte path (issue #22): a line the runner received as bytes and
// redaction left as it was is escaped from those bytes. It must write exactly what the
// string path (JSON.stringify of the entry) writes, and no secret may reach it.
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { REDACTED, Redactor } from '../../../src/backends/redact';
import { outputLines } from '../../../src/backends/runner';
import { jsonLinesSink } from '../../../src/backends/transcriptSink';
import type { TranscriptEntry } from '../../../src/backends/types';

function memorySink(batchBytes?: number) {
  const chunks: Buffer[] = [];
  const out = new Writable({ write: (chunk: Buffer, _enc, done) => (chunks.push(Buffer.from(chunk)), done()) });
  const sink = jsonLinesSink(out, batchBytes);
  return { sink, written: async () => (await sink.close(), Buffer.concat(chunks)) };
}

const stringWay = (entries: TranscriptEntry[]) => Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));

/** Lines as bytes: every byte value a line can hold, UTF-8 of every length, and bytes that are not UTF-8. */
const byteLines: Buffer[] = [
  Buffer.from(Array.from({ length: 0x80 }, (_, i) => i)),
  Buffer.from('{"type":"assistant","text":"quote \\" backslash \\\\ tab\\t é € 😀 \u2028"}'),
  Buffer.from('plain text with "quotes", a \\ and a \t tab'),
  Buffer.from(''),
  Buffer.from([0xff, 0x41]), // a stray byte
  Buffer.from([0x41, 0xe2, 0x82]), // a character cut at the end (a cut line)
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
  Buffer.from([0xc0, 0xaf]), // an overlong encoding
  Buffer.from(`{"long":"${'ab"\\c\u0001é'.repeat(400)}"}`), // over a small batch
  Buffer.concat([Buffer.from('x'.repeat(5000)), Buffer.from([0xff])]), // long and not UTF-8
];

describe('transcript recorded from bytes (issue #22)', () => {
  it('writes the very bytes the string way writes, for every stream, byte value, valid or invalid UTF-8 and long line', async () => {
    for (const batchBytes of [64, 1024, 256 * 1024]) {
      const { sink, written } = memorySink(batchBytes);
      const expected: TranscriptEntry[] = [];
      for (const stream of ['stdout', 'stderr', 'stdin', 'meta'] as const) {
        for (const bytes of byteLines) {
          // The line's bytes sit inside a larger buffer, as in a chunk.
          const chunk = Buffer.concat([Buffer.from('before\n'), bytes, Buffer.from('\nafter')]);
          const line = bytes.toString('utf8');
          sink.writeUtf8(stream, chunk, 7, 7 + bytes.length, line);
          expected.push({ stream, line });
        }
        sink.write({ stream: 'meta', line: 'between' });
        expected.push({ stream: 'meta', line: 'between' });
      }
      const out = await written();
      assert.deepEqual(out, stringWay(expected), `batch of ${batchBytes} bytes`);
      for (const line of out.toString('utf8').trimEnd().split('\n')) assert.equal(typeof (JSON.parse(line) as TranscriptEntry).line, 'string');
    }
  });

  it('batches reach a file intact while the file stream\'s written batch buffers are reused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'factory-sink-test-'));
    try {
      const file = path.join(dir, 'transcript.jsonl');
      const sink = jsonLinesSink(createWriteStream(file), 512);
      const expected: TranscriptEntry[] = [];
      for (let i = 0; i < 2000; i++) {
        const bytes = Buffer.from(`{"i":${i},"text":"${'é"x'.repeat(i % 50)}"}`);
        sink.writeUtf8('stdout', bytes, 0, bytes.length, bytes.toString('utf8'));
        expected.push({ stream: 'stdout', line: bytes.toString('utf8') });
        // Let write callbacks come in between, so later batches reuse earlier buffers.
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await sink.close();
      assert.deepEqual(readFileSync(file), stringWay(expected));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stream that hands its chunks on (a PassThrough) gets buffers that are never reused', async () => {
    const through = new PassThrough({ highWaterMark: 1 << 20 });
    const sink = jsonLinesSink(through, 256);
    const expected: TranscriptEntry[] = [];
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(`{"n":${i}}`);
      sink.writeUtf8('stderr', bytes, 0, bytes.length, bytes.toString('utf8'));
      expected.push({ stream: 'stderr', line: bytes.toString('utf8') });
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await sink.close();
    const read: Buffer[] = [];
    for await (const chunk of through) read.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(read), stringWay(expected));
  });

  describe('through the runner with redaction', () => {
    const secrets = ['sk-ant-api03-0123456789abcdef', 'ghp_0123456789abcdefghij', 'pa"ss\\word-with-escapes'] as const;
    const escapedSecret = JSON.stringify(secrets[2]).slice(1, -1);

    async function record(pieces: Buffer[], maxLineBytes?: number) {
      const { sink, written } = memorySink(1024);
      const output = outputLines({ redactor: new Redactor(secrets), sink, ...(maxLineBytes ? { maxLineBytes } : {}), onStdoutLine: () => undefined });
      for (const piece of pieces) output.stdout.push(piece);
      output.stdout.end();
      output.stderr.push(Buffer.from(`stderr ${secrets[0]}\n`));
      output.stderr.end();
      return (await written()).toString('utf8');
    }

    it('redacts each known secret, raw and JSON-escaped, anywhere in a line, at its end and at the end of the stream', async () => {
      const text = [
        `{"k":"${secrets[0]}"}`,
        `{"token":"${secrets[1]}","more":"x"}`,
        `{"escaped":"${escapedSecret}"}`,
        `raw ${secrets[2]}`,
        `ends with ${secrets[0]}`,
        `ends with CRLF ${secrets[1]}\r`,
        `no secret here, "quoted" é`,
        `last without newline ${secrets[0]}`,
      ].join('\n');
      const recorded = await record([Buffer.from(text)]);
      for (const secret of [...secrets, escapedSecret]) assert.ok(!recorded.includes(secret), `${secret} is not recorded`);
      const lines = recorded.trimEnd().split('\n').map((l) => JSON.parse(l) as TranscriptEntry);
      assert.deepEqual(lines.map((l) => l.line), [
        `{"k":"${REDACTED}"}`,
        `{"token":"${REDACTED}","more":"x"}`,
        `{"escaped":"${REDACTED}"}`,
        `raw ${REDACTED}`,
        `ends with ${REDACTED}`,
        `ends with CRLF ${REDACTED}`,
        `no secret here, "quoted" é`,
        `last without newline ${REDACTED}`,
        `stderr ${REDACTED}`,
      ]);
    });

    it('a line redaction changed goes to the sink as its redacted string, the others as their bytes', () => {
      const calls: string[] = [];
      const output = outputLines({
        redactor: new Redactor(secrets),
        sink: { write: (entry) => calls.push(`write ${entry.stream} ${entry.line}`), writeUtf8: (stream, bytes, start, end, line) => calls.push(`bytes ${stream} ${Buffer.from(bytes.subarray(start, end)).toString('utf8')} = ${line}`) },
        onStdoutLine: () => undefined,
      });
      output.stdout.push(Buffer.from(`clean
key ${secrets[0]}
`));
      output.stderr.push(Buffer.from(`warn
key ${secrets[1]}
`));
      assert.deepEqual(calls, ['bytes stdout clean = clean', `write stdout key ${REDACTED}`, 'bytes stderr warn = warn', `write stderr key ${REDACTED}`]);
    });

    it('redacts a secret split across chunks at every split point', async () => {
      const text = Buffer.from(`{"a":"b"}\n{"text":"key ${secrets[0]} end"}\nnext ${secrets[1]}\n`);
      for (let at = 1; at < text.length; at++) {
        const recorded = await record([text.subarray(0, at), text.subarray(at)]);
        assert.ok(!recorded.includes(secrets[0]) && !recorded.includes(secrets[1]), `split at byte ${at}`);
        // A JSON line redaction left alone is stored as it is (src/core/transcriptLines.ts).
        assert.equal(recorded, '{"stream":"stdout","json":{"a":"b"}}\n' + stringWay([
          { stream: 'stdout', line: `{"text":"key ${REDACTED} end"}` },
          { stream: 'stdout', line: `next ${REDACTED}` },
          { stream: 'stderr', line: `stderr ${REDACTED}` },
        ]).toString('utf8'), `split at byte ${at}`);
      }
    });

    it('a line cut at the line limit inside a secret records no part of it, wherever the cut falls', async () => {
      const prefix = '{"text":"';
      for (let at = 1; at < secrets[0].length; at++) {
        const limit = prefix.length + at;
        const recorded = await record([Buffer.from(`${prefix}${secrets[0]}"}\nok\n`)], limit);
        const entries = recorded.trimEnd().split('\n').map((l) => JSON.parse(l) as TranscriptEntry & { json?: { text: string } });
        // Joined with the line's tail around the dropped middle (cutJson.ts) when that is whole JSON, else its head.
        if (entries[0]?.json) assert.match(entries[0].json.text, /^\[REDACTED\]… \[factory: \d+ bytes of this line were dropped here\] …(\[REDACTED\])?$/, `cut after ${at} characters of the secret`);
        else assert.equal(entries[0]?.line, `${prefix}${REDACTED}`, `cut after ${at} characters of the secret`);
        assert.ok(!recorded.includes(secrets[0].slice(0, Math.max(at, 2))), `no part of it reached the transcript (cut at ${at})`);
        assert.ok(!recorded.includes(secrets[0].slice(-2)), `not its end either (cut at ${at})`);
        assert.equal(entries[1]?.line, 'ok');
      }
    });

    it('a line cut inside a character is recorded as its string (with U+FFFD), as before', async () => {
      const recorded = await record([Buffer.from('ab€cd\nok\n')], 3);
      assert.equal(recorded, stringWay([
        { stream: 'stdout', line: 'ab\ufffd' },
        { stream: 'stdout', line: 'ok' },
        { stream: 'stderr', line: 'std' },
      ]).toString('utf8'));
    });
  });
});
