// The fast paths of the transcript hot path (issue #22) behave exactly like the plain
// code they replaced: redaction's one-scan pre-check, the splitter's in-place lines and
// byte counts, the runner's output pipeline across chunks, the batched transcript sink,
// the parsers' recent-id set and the usage meter's price cache.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { LineSplitter } from '../../../src/backends/lineSplitter';
import { decodeJsonLine, RecentSet } from '../../../src/backends/parsers/common';
import { REDACTED, Redactor } from '../../../src/backends/redact';
import { outputLines, truncationMarker } from '../../../src/backends/runner';
import { jsonLinesSink } from '../../../src/backends/transcriptSink';
import type { TranscriptEntry } from '../../../src/backends/types';
import { UsageMeter } from '../../../src/backends/usageMeter';

const secret = 'sk-ant-api03-0123456789abcdef';

function collectOutput(options: { secrets?: string[]; maxOutputBytes?: number; maxLineBytes?: number } = {}) {
  const entries: TranscriptEntry[] = [];
  const lines: { line: string; cut: boolean; overCap: boolean }[] = [];
  const output = outputLines({
    redactor: new Redactor(options.secrets ?? [secret]),
    sink: { write: (entry) => entries.push(entry) },
    ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
    ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
    onStdoutLine: (line, cut, overCap) => lines.push({ line, cut, overCap }),
  });
  return { output, entries, lines };
}

describe('transcript hot path (issue #22)', () => {
  describe('redaction pre-check', () => {
    it('passes a line with no candidate through unchanged: the very same string', () => {
      const r = new Redactor([secret, 'ghp_abcdefgh1234']);
      const line = JSON.stringify({ type: 'assistant', text: 'sk-ant-api03-012345678 is only the start of a key' });
      assert.equal(r.redact(line), line);
      assert.ok(Object.is(r.redact(line), line));
    });
    it('takes a secret full of regex characters literally', () => {
      const odd = 'a.b*c+d(e)[f]{2}|g^h$i\\j?k/l';
      const r = new Redactor([odd]);
      assert.equal(r.redact(`x ${odd} y`), `x ${REDACTED} y`);
      // What the secret would match as a pattern is not the secret.
      const lookalike = 'aXbbbc+d(e)[f]{2}|g^h$i\\j?k/l';
      assert.equal(r.redact(lookalike), lookalike);
      assert.equal(r.redact(JSON.stringify({ v: odd })), `{"v":"${REDACTED}"}`);
    });
    it('a redactor without secrets returns every line as it is', () => {
      const r = new Redactor([]);
      assert.equal(r.redact(secret), secret);
      assert.ok(r.isEmpty);
    });
  });

  describe('runner output pipeline', () => {
    it('redacts a secret split across two chunks, in the transcript and in the parsed line', () => {
      const { output, entries, lines } = collectOutput();
      const text = `{"text":"the key is ${secret} ok"}\n`;
      const at = text.indexOf(secret) + 7;
      output.stdout.push(Buffer.from(text.slice(0, at)));
      output.stdout.push(Buffer.from(text.slice(at)));
      output.stdout.end();
      assert.deepEqual(entries, [{ stream: 'stdout', line: `{"text":"the key is ${REDACTED} ok"}` }]);
      assert.deepEqual(lines, [{ line: `{"text":"the key is ${REDACTED} ok"}`, cut: false, overCap: false }]);
    });
    it('at every split point of a multi-line stream the lines come out the same', () => {
      const text = `one\r\n{"k":"${secret}","é":"€😀"}\r\n\nthree`;
      const bytes = Buffer.from(text);
      const expected = ['one', `{"k":"${REDACTED}","é":"€😀"}`, '', 'three'];
      for (let at = 1; at < bytes.length; at++) {
        const { output, lines } = collectOutput();
        output.stdout.push(bytes.subarray(0, at));
        output.stdout.push(bytes.subarray(at));
        output.stdout.end();
        assert.deepEqual(lines.map((l) => l.line), expected, `split at byte ${at}`);
      }
    });
    it('counts the output cap in bytes received, multi-byte characters included', () => {
      // "€€€" is 9 bytes + newline = 10; the cap of 20 lets exactly two such lines through.
      const { output, entries, lines } = collectOutput({ maxOutputBytes: 20 });
      output.stdout.push(Buffer.from('€€€\n€€€\n€€€\n'));
      output.stdout.end();
      assert.equal(output.truncated, true);
      assert.deepEqual(entries, [{ stream: 'stdout', line: '€€€' }, { stream: 'stdout', line: '€€€' }, { stream: 'meta', line: truncationMarker(20) }]);
      assert.deepEqual(lines.map((l) => l.overCap), [false, false, true]);
    });
  });

  describe('line splitter', () => {
    it('reports each line\'s byte length without its CR, in one chunk and across chunks', () => {
      const seen: [string, boolean, number][] = [];
      const s = new LineSplitter({ maxLineBytes: 1024, onLine: (line, cut, bytes) => seen.push([line, cut, bytes]) });
      s.push(Buffer.from('ab€\r\ncd'));
      s.push(Buffer.from('e\r'));
      s.push(Buffer.from('\nlast'));
      s.end();
      assert.deepEqual(seen, [['ab€', false, 5], ['cde', false, 3], ['last', false, 4]]);
    });
    it('a line that fits in its chunk but is over the limit is cut, as one spanning chunks is', () => {
      const seen: [string, boolean][] = [];
      const s = new LineSplitter({ maxLineBytes: 4, onLine: (line, cut) => seen.push([line, cut]) });
      s.push(Buffer.from('abcdefgh\nok\nxy'));
      s.push(Buffer.from('zwvu\n'));
      assert.deepEqual(seen, [['abcd', true], ['ok', false], ['xyzw', true]]);
    });
  });

  describe('batched transcript sink', () => {
    it('writes exactly the JSON lines one write per entry would, in order, across batches and oversized lines', async () => {
      const chunks: Buffer[] = [];
      const out = new Writable({ write: (chunk: Buffer, _enc, done) => (chunks.push(chunk), done()) });
      const sink = jsonLinesSink(out, 1024);
      const entries: TranscriptEntry[] = [
        { stream: 'meta', line: '$ claude -p' },
        ...Array.from({ length: 40 }, (_, i) => ({ stream: 'stdout' as const, line: `{"i":${i},"t":"é€😀\\"\t\u0001"}` })),
        { stream: 'stderr', line: 'x'.repeat(500) },
        { stream: 'stdout', line: 'after the long one' },
      ];
      for (const entry of entries) sink.write(entry);
      await sink.close();
      assert.equal(Buffer.concat(chunks).toString('utf8'), entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      assert.ok(chunks.length > 1 && chunks.length < entries.length, `batched into ${chunks.length} writes`);
    });
  });

  describe('parser helpers', () => {
    it('decodes a padded line as before and builds the preview only for a diagnostic', () => {
      assert.deepEqual(decodeJsonLine('  {"a":1}\t'), { ok: true, value: { a: 1 } });
      assert.deepEqual(decodeJsonLine('{"a":1}'), { ok: true, value: { a: 1 } });
      const bad = decodeJsonLine(`{"a":${'1'.repeat(400)}`);
      assert.equal(bad.ok, false);
      assert.match((bad as { event: { message: string; line: string } }).event.message, /^malformed JSON line/);
      assert.equal((bad as { event: { line: string } }).event.line.length, 301);
    });
    it('the recent-id set forgets the oldest keys beyond its capacity', () => {
      const set = new RecentSet(3);
      for (const key of ['a', 'b', 'a', 'c', 'd', 'e']) set.add(key);
      assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((k) => set.has(k)), [false, false, true, true, true]);
    });
    it('the usage meter re-prices when the model changes', () => {
      const meter = new UsageMeter({ 'cheap*': { input: 1, output: 1 }, 'dear*': { input: 10, output: 10 } }, 'cheap-1');
      assert.equal(meter.add({ kind: 'usage', scope: 'delta', inputTokens: 1_000_000, outputTokens: 0, cachedTokens: 0 }).costUsd, 1);
      meter.setModel('dear-2');
      assert.equal(meter.total().costUsd, 10);
      meter.setModel('unknown');
      assert.equal(meter.total().costUsd, undefined);
    });
  });
});
