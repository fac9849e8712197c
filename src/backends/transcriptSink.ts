// The transcript as the engine records it while an attempt runs: one JSON entry a line
// on a byte stream (a temp file that becomes evidence). Entries are batched into
// writes of 256 KB (issue #22): each line is encoded straight into the batch buffer,
// one write call per batch instead of one write and one Buffer per line (which cost
// more than the line's JSON escaping). A line that comes as bytes (`writeUtf8`) is
// escaped byte by byte from them: no JSON.stringify string, no UTF-8 re-encoding,
// the same bytes out. A line the runner proved to be a JSON text is not escaped at all:
// its bytes are copied as the entry's `json` value (src/core/transcriptLines.ts), which
// is most of a stream-json agent's output.
import { isUtf8 } from 'node:buffer';
import { WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { jsonEntryHead } from '../core/transcriptLines';
import type { TranscriptEntry, TranscriptSink } from './types';

/** Bytes per write: entries are encoded into a buffer this size, which is written when full. */
export const TRANSCRIPT_BATCH_BYTES = 256 * 1024;
/** Bytes handed to the stream but not yet written past which the sink says it is backlogged: a few batches' worth. */
export const TRANSCRIPT_BACKLOG_BYTES = 4 * 1024 * 1024;

export interface JsonLinesSink extends TranscriptSink {
  writeUtf8: NonNullable<TranscriptSink['writeUtf8']>;
  /** Writes what is batched and ends the stream; resolves once it is ended (a write error is the stream's to report, as before). */
  close(): Promise<void>;
}

/** One value per stream, made once. */
const perStream = <T>(make: (stream: TranscriptEntry['stream']) => T): Record<TranscriptEntry['stream'], T> => ({ stdout: make('stdout'), stderr: make('stderr'), stdin: make('stdin'), meta: make('meta') });
/** What JSON.stringify({ stream, line }) writes before the line's escaped text. */
const ENTRY_HEADS = perStream(entryHead);
const ENTRY_TAIL = Buffer.from('"}\n');
/** What a `json` entry writes before the line's own bytes, and after them. */
const JSON_ENTRY_HEADS = perStream((stream) => Buffer.from(jsonEntryHead(stream)));
const JSON_ENTRY_TAIL = Buffer.from('}\n');
/**
 * A `json` entry's head as little-endian 32-bit words (its last bytes, under four, are
 * copied one by one): written four bytes a store, as a byte loop made the head most of
 * a JSON line's cost (issue #22).
 */
const JSON_HEAD_WORDS = perStream((stream) => {
  const head = JSON_ENTRY_HEADS[stream];
  return Array.from({ length: head.length >> 2 }, (_, i) => head.readUInt32LE(4 * i));
});
/** Batch buffers kept for reuse: a slow disk may hold many at once, they are not all kept. */
const MAX_SPARE_BATCHES = 4;
/** Below this many bytes a loop copies faster than making a view for a native copy. */
const SMALL_COPY = 64;
/** A byte escaped in JSON takes at most 6 (`\u001f`). */
const MAX_ESCAPED = 6;

export function jsonLinesSink(out: Writable, batchBytes = TRANSCRIPT_BATCH_BYTES, backlogBytes = TRANSCRIPT_BACKLOG_BYTES): JsonLinesSink {
  // A file stream is done with a batch once its write callback comes: its buffer is
  // reused then (a fresh 256 KB buffer a batch kept the garbage collector busy). Any
  // other stream may hand the very buffer on (a PassThrough does): it gets fresh ones.
  const spare: Buffer[] | undefined = out instanceof WriteStream ? [] : undefined;
  let buffer: Buffer = Buffer.allocUnsafe(batchBytes);
  let used = 0;
  /** The last line's bytes, and where they lie in their ArrayBuffer (which never changes for a typed array). */
  let source: Uint8Array | undefined;
  let sourceBuffer: ArrayBufferLike = new ArrayBuffer(0);
  let sourceOffset = 0;
  /** The batch buffer, for stores of four bytes at any offset. */
  let words = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
  const putJsonHead = (stream: TranscriptEntry['stream'], at: number): number => {
    const head = JSON_ENTRY_HEADS[stream];
    const headWords = JSON_HEAD_WORDS[stream];
    for (let i = 0; i < headWords.length; i++) words.setUint32(at + 4 * i, headWords[i] as number, true);
    for (let i = headWords.length * 4; i < head.length; i++) buffer[at + i] = head[i] as number;
    return at + head.length;
  };
  const flush = () => {
    if (used === 0) return;
    const written = buffer;
    if (!spare) out.write(written.subarray(0, used));
    else
      out.write(written.subarray(0, used), () => {
        if (spare.length < MAX_SPARE_BATCHES) spare.push(written);
      });
    buffer = spare?.pop() ?? Buffer.allocUnsafe(batchBytes);
    words = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
    used = 0;
  };
  const write = (entry: TranscriptEntry) => {
    const json = `${JSON.stringify(entry)}\n`;
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    if (used + json.length * 3 > buffer.length) flush();
    if (json.length * 3 > buffer.length) out.write(json);
    else used += buffer.write(json, used);
  };
  /** A line that may not fit a batch (tens of KB and more) gets a buffer of its exact escaped size. */
  const writeLongLine = (stream: TranscriptEntry['stream'], bytes: Uint8Array, start: number, end: number, line: string) => {
    const head = ENTRY_HEADS[stream];
    if (!isUtf8(bytes.subarray(start, end))) return write({ stream, line });
    const own = Buffer.allocUnsafe(head.length + escapedLength(bytes, start, end) + ENTRY_TAIL.length);
    head.copy(own, 0);
    ENTRY_TAIL.copy(own, Math.abs(escapeJsonBytes(bytes, start, end, own, head.length)));
    out.write(own);
  };
  /**
   * The line's bytes as they are, as a `json` entry, when that is sure to read back as the
   * same text: the caller proved the text is JSON, its bytes are UTF-8 (the decoded string
   * is what was proven), and it holds no CR (a line reader such as readline would split
   * there; a CR inside JSON can only be whitespace). Returns false when it did not write.
   */
  const writeVerbatim = (stream: TranscriptEntry['stream'], bytes: Uint8Array, start: number, end: number, line: string): boolean => {
    if (line.indexOf('\r') !== -1) return false;
    // Bytes that are not UTF-8 decode to U+FFFD; a line without one needs no byte check.
    if (line.indexOf('\ufffd') !== -1 && !isUtf8(bytes.subarray(start, end))) return false;
    const head = JSON_ENTRY_HEADS[stream];
    const size = head.length + (end - start) + JSON_ENTRY_TAIL.length;
    if (used + size > buffer.length) flush();
    const own = size > buffer.length;
    const into = own ? Buffer.allocUnsafe(size) : buffer;
    let at = own ? copyBytes(head, into, 0) : putJsonHead(stream, used);
    // A plain view is made twice as fast as Buffer#subarray's (a Buffer subclass). Its
    // `buffer` getter is a call into the runtime: asked once a source, not once a line.
    if (end - start > SMALL_COPY) {
      if (bytes !== source) {
        source = bytes;
        sourceBuffer = bytes.buffer;
        sourceOffset = bytes.byteOffset;
      }
      into.set(new Uint8Array(sourceBuffer, sourceOffset + start, end - start), at);
    } else for (let i = start; i < end; i++) into[at + i - start] = bytes[i] as number;
    at = copyBytes(JSON_ENTRY_TAIL, into, at + end - start);
    if (own) out.write(into);
    else used = at;
    return true;
  };
  return {
    write,
    writeUtf8(stream, bytes, start, end, line, json) {
      if (json && writeVerbatim(stream, bytes, start, end, line)) return;
      const head = ENTRY_HEADS[stream];
      const worst = head.length + (end - start) * MAX_ESCAPED + ENTRY_TAIL.length;
      if (used + worst > buffer.length) flush();
      if (worst > buffer.length) return writeLongLine(stream, bytes, start, end, line);
      const entryStart = used;
      used = copyBytes(head, buffer, used);
      const escapedEnd = escapeJsonBytes(bytes, start, end, buffer, used);
      // Bytes that are not UTF-8 (a cut character, a stray byte) decoded to U+FFFD: the string says what to record.
      if (escapedEnd < 0 && !isUtf8(bytes.subarray(start, end))) {
        used = entryStart;
        return write({ stream, line });
      }
      used = copyBytes(ENTRY_TAIL, buffer, Math.abs(escapedEnd));
    },
    isBacklogged: () => out.writableLength >= backlogBytes,
    onceWritten(callback) {
      // Past the high-water mark a write returned false, so 'drain' comes once all is written.
      const done = () => {
        out.off('drain', done);
        out.off('error', done);
        out.off('close', done);
        callback();
      };
      out.on('drain', done);
      out.on('error', done);
      out.on('close', done);
    },
    close() {
      flush();
      source = undefined;
      return new Promise<void>((resolve) => out.end(() => resolve()));
    },
  };
}

/** Buffer#copy for a few bytes, without its call into the runtime. */
function copyBytes(src: Uint8Array, dst: Uint8Array, at: number): number {
  for (let i = 0; i < src.length; i++) dst[at + i] = src[i] as number;
  return at + src.length;
}

function entryHead(stream: TranscriptEntry['stream']): Buffer {
  const json = JSON.stringify({ stream, line: '' });
  return Buffer.from(json.slice(0, json.length - '"}'.length));
}

/**
 * How JSON.stringify escapes each byte of UTF-8 text in a string: 0 as it is, 1 as
 * `\u00XX`, else a backslash and this letter. Bytes from 0x80 are copied (a valid
 * multi-byte character is written as it is) and flagged with 2.
 */
const ESCAPES = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPES[c] = 1;
for (const [c, letter] of [[0x08, 'b'], [0x09, 't'], [0x0a, 'n'], [0x0c, 'f'], [0x0d, 'r'], [0x22, '"'], [0x5c, '\\']] as const) ESCAPES[c] = letter.charCodeAt(0);
for (let c = 0x80; c < 0x100; c++) ESCAPES[c] = 2;
const HEX_DIGITS = Buffer.from('0123456789abcdef');

/** How many bytes `escapeJsonBytes` writes for `src[start, end)`. */
function escapedLength(src: Uint8Array, start: number, end: number): number {
  let length = end - start;
  for (let i = start; i < end; i++) {
    const escape = ESCAPES[src[i] as number] as number;
    if (escape === 1) length += 5;
    else if (escape > 2) length += 1;
  }
  return length;
}

/**
 * Writes `src[start, end)` escaped as the inside of a JSON string into `dst` from `at`
 * (> 0; room for 6 bytes a byte is the caller's); returns where it ended, negated if
 * the bytes were not all ASCII (the caller must then know they are UTF-8).
 */
function escapeJsonBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  let j = at;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = src[i] as number;
    const escape = ESCAPES[c] as number;
    if (escape === 0) dst[j++] = c;
    else if (escape === 2) {
      dst[j++] = c;
      ascii = false;
    } else if (escape !== 1) {
      dst[j++] = 0x5c;
      dst[j++] = escape;
    } else {
      dst[j++] = 0x5c;
      dst[j++] = 0x75;
      dst[j++] = 0x30;
      dst[j++] = 0x30;
      dst[j++] = HEX_DIGITS[c >> 4] as number;
      dst[j++] = HEX_DIGITS[c & 15] as number;
    }
  }
  return ascii ? j : -j;
}
