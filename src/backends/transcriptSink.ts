// The transcript as the engine records it while an attempt runs: one JSON entry a line
// on a byte stream (a temp file that becomes evidence). Entries are batched into
// writes of 256 KB (issue #22): each line is encoded straight into the batch buffer,
// one write call per batch instead of one write and one Buffer per line (which cost
// more than the line's JSON escaping).
import type { Writable } from 'node:stream';
import type { TranscriptSink } from './types';

/** Bytes per write: entries are encoded into a buffer this size, which is written when full. */
export const TRANSCRIPT_BATCH_BYTES = 256 * 1024;

export interface JsonLinesSink extends TranscriptSink {
  /** Writes what is batched and ends the stream; resolves once it is ended (a write error is the stream's to report, as before). */
  close(): Promise<void>;
}

export function jsonLinesSink(out: Writable, batchBytes = TRANSCRIPT_BATCH_BYTES): JsonLinesSink {
  let buffer = Buffer.allocUnsafe(batchBytes);
  let used = 0;
  const flush = () => {
    if (used === 0) return;
    // The stream keeps the written bytes until they reach the file: the next batch gets a fresh buffer.
    out.write(buffer.subarray(0, used));
    buffer = Buffer.allocUnsafe(batchBytes);
    used = 0;
  };
  return {
    write(entry) {
      const json = `${JSON.stringify(entry)}\n`;
      // A UTF-16 unit takes at most 3 bytes in UTF-8.
      if (used + json.length * 3 > buffer.length) flush();
      if (json.length * 3 > buffer.length) out.write(json);
      else used += buffer.write(json, used);
    },
    close() {
      flush();
      return new Promise<void>((resolve) => out.end(() => resolve()));
    },
  };
}
