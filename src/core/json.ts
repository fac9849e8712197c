// JSON parsing for files that come from the record (and so from any branch anyone
// pushed): prototype-polluting keys are dropped and reported, never assigned, and a
// value nested deeper than MAX_JSON_DEPTH is refused. JSON.parse itself takes any
// depth, but everything after it (copying, zod, JSON.stringify, structuredClone to a
// webview) recurses and would overflow the stack on a file of `[[[[…`.

const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** No file of the record needs more; a deeper one is hostile (or broken) input. */
export const MAX_JSON_DEPTH = 64;

/** The text is valid JSON but nested deeper than the limit. */
export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`it is nested more than ${limit} levels deep (the limit for a record file)`);
    this.name = 'JsonTooDeepError';
  }
}

/**
 * True when the JSON text nests objects and arrays deeper than `limit`. Strings are
 * skipped (brackets inside them do not count). Cheap for ordinary files: a text with
 * fewer than `limit` opening brackets cannot be that deep, and counting them with
 * indexOf costs a few percent of JSON.parse.
 */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let openers = 0;
  for (let i = text.indexOf('{'); i !== -1 && openers <= limit; i = text.indexOf('{', i + 1)) openers++;
  for (let i = text.indexOf('['); i !== -1 && openers <= limit; i = text.indexOf('[', i + 1)) openers++;
  if (openers <= limit) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote, stepping over escapes
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * JSON.parse, with what it failed on said truthfully: a text that stops before its
 * value is complete says where it ends (line, column, byte), a syntax error says where
 * it is, and a value nested too deep throws JsonTooDeepError instead of parsing.
 */
export function parseJsonChecked(text: string, limit = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(describeJsonError(text, error as Error), { cause: error });
  }
  if (jsonDepthExceeds(text, limit)) throw new JsonTooDeepError(limit);
  return value;
}

/** A JSON.parse error message with the place in the text a reader can find. */
export function describeJsonError(text: string, error: Error): string {
  const message = error.message;
  if (text.trim() === '') return 'it is empty (no JSON value at all)';
  // Older V8 names the position; newer V8 names the token and quotes the text instead.
  const at = /at position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : jsonErrorOffset(text);
  // V8 says "Unexpected end", or names an error at the very end of the text: either way the text stops early.
  if (/Unexpected end of JSON input/i.test(message) || (offset !== undefined && text.slice(offset).trim() === '')) {
    const end = positionOf(text, text.length);
    return `it ends before its JSON value is complete: cut short at line ${end.line}, column ${end.column} (after ${end.bytes} bytes)`;
  }
  if (offset !== undefined) {
    const where = positionOf(text, offset);
    const reason = at ? message.replace(/ at position \d+.*$/s, '').replace(/ in JSON$/, '') : `unexpected ${describeChar(text, offset)}`;
    return `${reason} at line ${where.line}, column ${where.column} (byte ${where.bytes})`;
  }
  return message;
}

function describeChar(text: string, offset: number): string {
  const ch = String.fromCodePoint(text.codePointAt(offset) ?? 0x20);
  return /^[\x21-\x7e]$/.test(ch) ? `"${ch}"` : `character U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Where a JSON text stops being valid: the offset of the first character that cannot
 * continue it (text.length when it ends too early), or undefined when it is valid.
 * Only called once JSON.parse has failed, so it favours plainness over speed.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const n = text.length;
  let i = 0;
  const stack: string[] = [];
  const skipSpace = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  /** Reads a string at i (on its quote); returns an error offset, or undefined when it is well formed. */
  const readString = (): number | undefined => {
    for (i++; i < n; ) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return i;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === undefined) return n;
        if (e === 'u') {
          for (let k = 2; k < 6; k++) {
            if (i + k >= n) return n;
            if (!/[0-9a-fA-F]/.test(text[i + k]!)) return i + k;
          }
          i += 6;
        } else if ('"\\/bfnrt'.includes(e)) i += 2;
        else return i + 1;
      } else i++;
    }
    return n;
  };
  const readNumber = (): number | undefined => {
    if (text[i] === '-') i++;
    if (i >= n) return n;
    if (text[i] === '0') i++;
    else if (isDigit(text[i])) while (isDigit(text[i])) i++;
    else return i;
    if (text[i] === '.') {
      i++;
      if (i >= n) return n;
      if (!isDigit(text[i])) return i;
      while (isDigit(text[i])) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (i >= n) return n;
      if (!isDigit(text[i])) return i;
      while (isDigit(text[i])) i++;
    }
    return undefined;
  };
  let expect: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipSpace();
    if (expect === 'value') {
      if (i >= n) return n;
      const c = text[i]!;
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        skipSpace();
        if (text[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          expect = 'after';
        } else expect = c === '{' ? 'key' : 'value';
        continue;
      }
      let error: number | undefined;
      if (c === '"') error = readString();
      else if (c === '-' || isDigit(c)) error = readNumber();
      else {
        const word = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : undefined;
        if (!word) return i;
        for (let k = 0; k < word.length; k++) {
          if (i + k >= n) return n;
          if (text[i + k] !== word[k]) return i + k;
        }
        i += word.length;
      }
      if (error !== undefined) return error;
      expect = 'after';
    } else if (expect === 'key') {
      if (i >= n) return n;
      if (text[i] !== '"') return i;
      const error = readString();
      if (error !== undefined) return error;
      skipSpace();
      if (i >= n) return n;
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
    } else {
      const top = stack[stack.length - 1];
      if (top === undefined) return i < n ? i : undefined;
      if (i >= n) return n;
      if (text[i] === ',') {
        i++;
        expect = top === '{' ? 'key' : 'value';
      } else if (text[i] === (top === '{' ? '}' : ']')) {
        stack.pop();
        i++;
      } else return i;
    }
  }
}

/** 1-based line and column (UTF-16 units) of `offset`, and how many UTF-8 bytes precede it. */
export function positionOf(text: string, offset: number): { line: number; column: number; bytes: number } {
  const before = text.slice(0, offset);
  const lastNewline = before.lastIndexOf('\n');
  let line = 1;
  for (let i = before.indexOf('\n'); i !== -1; i = before.indexOf('\n', i + 1)) line++;
  return { line, column: offset - lastNewline, bytes: new TextEncoder().encode(before).length };
}

export interface SafeParseResult {
  value: unknown;
  /** Dotted paths of keys that were dropped. */
  droppedKeys: string[];
}

/**
 * Parses record JSON: throws SyntaxError (saying where) for invalid JSON and
 * JsonTooDeepError for a value nested deeper than `limit`; drops polluting keys.
 */
export function parseJsonSafely(text: string, limit = MAX_JSON_DEPTH): SafeParseResult {
  const droppedKeys: string[] = [];
  const value = parseJsonChecked(text, limit);
  return { value: scrub(value, '', droppedKeys), droppedKeys };
}

function scrub(value: unknown, path: string, dropped: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => scrub(item, path ? `${path}.${i}` : String(i), dropped));
  if (value === null || typeof value !== 'object') return value;
  const clean: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const keyPath = path ? `${path}.${key}` : key;
    if (POLLUTING_KEYS.has(key)) {
      dropped.push(keyPath);
      continue;
    }
    clean[key] = scrub((value as Record<string, unknown>)[key], keyPath, dropped);
  }
  return clean;
}

/** Lowercase, dash-separated, at most `max` characters; never empty. */
export function slugify(text: string, max = 40): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return slug || 'change';
}
