// A stdout line that is itself JSON is stored as it came, `{"stream":"stdout","json":<line>}`
// (issue #22: escaping it was most of the recording cost); every other line keeps the
// escaped `{"stream":…,"line":"…"}` entry. Both shapes read back, through the one
// decoder, as the very text the agent wrote, and replay the same events.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { AgentEvent } from '../../../src/core/agentEvents';
import { decodeTranscriptLine } from '../../../src/core/transcriptLines';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import type { Json } from '../../../src/backends/parsers/common';
import { REDACTED, Redactor } from '../../../src/backends/redact';
import { outputLines } from '../../../src/backends/runner';
import { jsonLinesSink } from '../../../src/backends/transcriptSink';
import { linesOf, replayTranscript, type ReplayItem } from '../../../src/engine/transcriptReplay';

const SECRET = 'sk-ant-api03-0123456789abcdef';

/** Records stdout as the runner does (split, redact, sink) and returns the stored bytes and what the runner handed on. */
async function recordStdout(stdout: Buffer, options: { maxLineBytes?: number; batchBytes?: number; chunkBytes?: number } = {}) {
  const chunks: Buffer[] = [];
  const sink = jsonLinesSink(new Writable({ write: (chunk: Buffer, _enc, done) => (chunks.push(Buffer.from(chunk)), done()) }), options.batchBytes);
  const handed: { line: string; cut: boolean; value: Json | undefined }[] = [];
  const output = outputLines({
    redactor: new Redactor([SECRET]),
    sink,
    ...(options.maxLineBytes ? { maxLineBytes: options.maxLineBytes } : {}),
    onStdoutLine: (line, cut, _overCap, value) => handed.push({ line, cut, value }),
  });
  const step = options.chunkBytes ?? stdout.length;
  for (let at = 0; at < stdout.length; at += step) output.stdout.push(stdout.subarray(at, at + step));
  output.stdout.end();
  await sink.close();
  const stored = Buffer.concat(chunks);
  return { stored, storedLines: stored.toString('utf8').split('\n').slice(0, -1), handed };
}

const readBack = (storedLines: string[]) => storedLines.map((raw) => decodeTranscriptLine(raw));

describe('transcript: JSON lines stored as they are (issue #22)', () => {
  it('a JSON line is recorded byte for byte as a json entry and reads back identically, however it is spelled', async () => {
    // Spellings JSON.stringify would not give back: spaces, escapes, 1.0, a big integer, a duplicate key, U+2028, U+FFFD itself.
    const lines = [
      '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"é € 😀"}]}}',
      '{ "type" : "result",\t"n": 1.0, "big": 12345678901234567890123, "esc": "\\u00e9\\/\\"q\\"" }',
      '{"a":1,"a":2}',
      '{"sep":"\u2028\u2029","replacement":"\ufffd"}',
      '{}',
    ];
    const { stored, storedLines, handed } = await recordStdout(Buffer.from(`${lines.join('\n')}\n`));
    assert.equal(stored.toString('utf8'), lines.map((line) => `{"stream":"stdout","json":${line}}\n`).join(''));
    assert.deepEqual(readBack(storedLines), lines.map((line) => ({ stream: 'stdout', line })));
    // The runner parsed each once and handed the value on with the line.
    assert.deepEqual(handed.map((h) => h.value), lines.map((line) => JSON.parse(line) as unknown));
  });

  it('the same with CRLF endings, lines split across chunks, and lines longer than a batch', async () => {
    const long = `{"text":"${'x\\"y\\\\z é'.repeat(3000)}"}`;
    const lines = ['{"n":1}', long, '{"n":2}', long];
    for (const chunkBytes of [7, 1000, 64 * 1024]) {
      const { storedLines } = await recordStdout(Buffer.from(`${lines.join('\r\n')}\r\n`), { chunkBytes, batchBytes: 4096 });
      assert.deepEqual(storedLines, lines.map((line) => `{"stream":"stdout","json":${line}}`), `chunks of ${chunkBytes} bytes`);
      assert.deepEqual(readBack(storedLines), lines.map((line) => ({ stream: 'stdout', line })));
    }
  });

  it('a redacted line, an invalid JSON line, a non-UTF-8 line, a cut (huge) line and one with a CR inside take the escaped way and read back right', async () => {
    const redacted = `{"text":"key ${SECRET} end"}`;
    const invalid = ['{"a":}', '{"a":1} trailing', '[1,2]', 'plain text', '{not json}'];
    const notUtf8 = Buffer.from([...Buffer.from('{"a":"'), 0xff, ...Buffer.from('"}')]);
    const withCr = '{"a":1,\r"b":2}';
    // Cut in the middle of a list of numbers, not inside one string: not joined with its tail (cutJson.ts), its head is kept.
    const huge = `{"list":[${Array.from({ length: 2000 }, (_, i) => i).join(',')}]}`;
    const stdout = Buffer.concat([Buffer.from(`${redacted}\n${invalid.join('\n')}\n`), notUtf8, Buffer.from(`\n${withCr}\n${huge}\n{"ok":true}\n`)]);
    const { storedLines, handed } = await recordStdout(stdout, { maxLineBytes: 1000 });
    const expected = [`{"text":"key ${REDACTED} end"}`, ...invalid, '{"a":"\ufffd"}', withCr, huge.slice(0, 1000)];
    // Every one of them is a `line` entry, as before the json shape existed.
    assert.deepEqual(storedLines.slice(0, -1), expected.map((line) => JSON.stringify({ stream: 'stdout', line })));
    assert.equal(storedLines.at(-1), '{"stream":"stdout","json":{"ok":true}}');
    assert.deepEqual(readBack(storedLines), [...expected, '{"ok":true}'].map((line) => ({ stream: 'stdout', line })));
    // The redacted line is parsed after redaction (its value has no secret); a cut line is not parsed.
    assert.deepEqual(handed[0]?.value, { text: `key ${REDACTED} end` });
    assert.equal(handed.find((h) => h.cut)?.value, undefined);
    // A line reader that splits on a lone CR (readline, as the transcript view reads) still sees one line.
    const viaReadline: string[] = [];
    for await (const raw of linesOf(Readable.from([storedLines.join('\n')]))) viaReadline.push(raw);
    assert.deepEqual(viaReadline, storedLines);
  });

  it('the decoder reads the old line entry, the json entry, a json entry another tool reformatted, and rejects anything else', () => {
    assert.deepEqual(decodeTranscriptLine('{"stream":"meta","line":"$ claude -p"}'), { stream: 'meta', line: '$ claude -p' });
    assert.deepEqual(decodeTranscriptLine('{"stream":"stdout","json":{"a" : 1.0}}'), { stream: 'stdout', line: '{"a" : 1.0}' });
    assert.deepEqual(decodeTranscriptLine('{"stream":"stdout","json":{"a":1}}\r'), { stream: 'stdout', line: '{"a":1}' });
    // Keys in another order or spaced: the value's JSON (the same JSON, spelled the standard way).
    assert.deepEqual(decodeTranscriptLine('{"json": {"a" : 1.0}, "stream": "stdout"}'), { stream: 'stdout', line: '{"a":1}' });
    assert.deepEqual(decodeTranscriptLine('{ "stream": "stdout", "json": [1, 2] }'), { stream: 'stdout', line: '[1,2]' });
    for (const raw of ['{"stream":"stdout"}', '{"line":"x"}', '{"stream":1,"line":"x"}', '[1]', 'null', '{"stream":"stdout","json":', 'not json']) {
      assert.equal(decodeTranscriptLine(raw), undefined, raw);
    }
  });

  it('an old line-shaped transcript and the same output recorded now replay to the same events', async () => {
    const fixture = path.join(__dirname, '..', '..', 'fixtures', 'agents', 'claude-code', 'success-partial.jsonl');
    const output = readFileSync(fixture);
    const oldShape = output.toString('utf8').split('\n').filter((l) => l.trim()).map((line) => JSON.stringify({ stream: 'stdout', line }));
    const { storedLines } = await recordStdout(output);
    assert.ok(storedLines.every((l) => l.startsWith('{"stream":"stdout","json":')), 'the captured Claude Code output is all JSON lines');
    const replay = async (lines: string[]) => {
      const items: ReplayItem[] = [];
      for await (const item of replayTranscript(lines, { backend: 'claude-code', cwd: '/workspace/project' })) items.push(item);
      return items;
    };
    const fromOld = await replay(oldShape);
    assert.ok(fromOld.length > 10);
    assert.deepEqual(await replay(storedLines), fromOld);
    // A transcript mixing both shapes (an old one appended to never happens, but a reader must not care).
    assert.deepEqual(await replay(oldShape.map((old, i) => (i % 2 ? old : (storedLines[i] as string)))), fromOld);
  });

  it('a parser given the runner\'s value gives the events it gives parsing the line itself', () => {
    const lines = readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'agents', 'claude-code', 'success.jsonl'), 'utf8').split('\n');
    const own = createClaudeCodeParser({ cwd: '/w' });
    const given = createClaudeCodeParser({ cwd: '/w' });
    const a: AgentEvent[] = lines.flatMap((line) => own.parse(line));
    const b: AgentEvent[] = lines.flatMap((line) => given.parse(line, false, line.trim() ? (JSON.parse(line) as Json) : undefined));
    assert.ok(a.length > 5);
    assert.deepEqual(b, a);
  });
});
