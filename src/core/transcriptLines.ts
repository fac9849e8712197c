// The stored transcript's line format (evidence `transcript.jsonl`, docs/record.md): one
// JSON entry a line, in one of two shapes.
// - `{"stream":S,"line":"<text, JSON-escaped>"}`: any line (and every line written before
//   issue #22).
// - `{"stream":S,"json":<the line's own bytes>}`: a line that is itself a JSON text,
//   stored as it came (no escaping: the cheap way for stream-json agents). Its text is
//   the bytes between the head and the closing brace, exactly as the agent wrote them.
// Every reader goes through `decodeTranscriptLine`, so both shapes read the same.

/** What a transcript line says: which stream, and the line's text as the agent wrote it. */
export interface DecodedTranscriptLine {
  stream: string;
  line: string;
}

/** The text a `json` entry starts with, before the line's bytes (the writer's and the reader's). */
export function jsonEntryHead(stream: string): string {
  return `{"stream":${JSON.stringify(stream)},"json":`;
}

/**
 * One stored transcript line as its stream and text, or undefined when it is not an
 * entry of either shape (damaged, torn at the end, or a shape from a newer version).
 * A `json` entry's text is the original bytes when the line has the writer's exact
 * layout (always, for what this code wrote); a line reformatted by some other tool
 * gives the value's `JSON.stringify` (the same JSON, maybe spaced or escaped otherwise).
 */
export function decodeTranscriptLine(raw: string): DecodedTranscriptLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entry = value as { stream?: unknown; line?: unknown; json?: unknown };
  if (typeof entry.stream !== 'string') return undefined;
  if (typeof entry.line === 'string') return { stream: entry.stream, line: entry.line };
  if (!('json' in entry)) return undefined;
  const text = raw.trimEnd();
  const head = jsonEntryHead(entry.stream);
  if (text.startsWith(head) && text.endsWith('}')) return { stream: entry.stream, line: text.slice(head.length, -1) };
  return { stream: entry.stream, line: JSON.stringify(entry.json) };
}
