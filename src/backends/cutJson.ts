// A JSON line too long for the line limit loses its middle, not its end, when the middle
// lies inside one string: what an agent puts in a huge line is one huge value (its final
// answer, a file it wrote, a tool's output), and the fields after it are what decide the
// attempt. Claude Code 2.1.332's `result` line, with a 5.4 MB answer, holds `"type":"result"`,
// the duration and the session after the answer: cut at its head, the run read as "ended
// without a final result" (failed, no cost), although the agent succeeded.

/** The marker put where the middle of a string was dropped. */
export function cutMarker(droppedBytes: number): string {
  return `… [factory: ${droppedBytes} bytes of this line were dropped here] …`;
}

/**
 * `head` (the line's first bytes, decoded) and `tail` (its last bytes, decoded) joined
 * around the marker into one JSON object, when the dropped middle lay inside a string
 * (then the head ends inside a string and the tail starts inside one); else undefined.
 * `redactHead`/`redactTail` see each side as it is joined, cut at a whole character.
 */
export function joinCutJsonLine(head: string, tail: string, droppedBytes: number, redactHead = (s: string) => s, redactTail = (s: string) => s): string | undefined {
  if (head.charCodeAt(0) !== 0x7b || !tail.endsWith('}')) return undefined;
  const headEnd = safeStringEnd(head);
  if (headEnd === undefined) return undefined;
  // The tail's first characters may be half a UTF-8 character or the rest of an escape: skip
  // to a character that follows neither a backslash nor a replacement character.
  let start = 1;
  while (start < tail.length && (tail[start - 1] === '\\' || tail[start] === '\ufffd' || isLowSurrogate(tail.charCodeAt(start)))) start++;
  const skipped = Buffer.byteLength(tail.slice(0, start)) + Buffer.byteLength(head.slice(headEnd));
  const joined = `${redactHead(head.slice(0, headEnd))}${escapeForJson(cutMarker(droppedBytes + skipped))}${redactTail(tail.slice(start))}`;
  try {
    const value: unknown = JSON.parse(joined);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? joined : undefined;
  } catch {
    return undefined;
  }
}

/** Where the head can end inside a string (after a whole character, no escape open), or undefined when it does not end inside a string. */
function safeStringEnd(head: string): number | undefined {
  let inString = false;
  let escapeAt = -1;
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (!inString) {
      if (c === 0x22) inString = true;
      continue;
    }
    if (escapeAt >= 0) {
      // `\uXXXX` stays open for its four hex digits.
      if (head[escapeAt + 1] === 'u' ? i >= escapeAt + 5 : true) escapeAt = -1;
      continue;
    }
    if (c === 0x5c) escapeAt = i;
    else if (c === 0x22) inString = false;
  }
  if (!inString) return undefined;
  let end = escapeAt >= 0 ? escapeAt : head.length;
  while (end > 0 && (head[end - 1] === '\ufffd' || isHighSurrogate(head.charCodeAt(end - 1)))) end--;
  return end;
}

function escapeForJson(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
