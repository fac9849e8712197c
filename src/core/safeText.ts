// Untrusted text (change titles, file names, agent output, report messages, anything
// from the record or a workspace file) on a VS Code surface. Pure, no 'vscode': the ui
// calls it on every string it did not write itself, whatever the surface.
//
// What it guards against:
// - `$(icon)` syntax, which the status bar, quick picks and (with renderLabelIcons)
//   tree labels render as an icon: text could fake a "passed" check mark. VS Code's own
//   escape is a backslash (`\$(x)`, see iconLabels.ts escapeIcons), but a surface that
//   does not parse icons (a tree label by default, a notification) then shows the
//   backslash. A WORD JOINER (U+2060, zero-width, never rendered) between `$` and `(`
//   breaks the syntax on every surface and shows the text exactly as written.
// - Links: a notification renders `[label](command:…)` as a link that runs a command
//   on click. The same joiner between `]` and `(` leaves it as text.
// - Control, bidirectional and invisible characters: a title with U+202E (RIGHT-TO-LEFT
//   OVERRIDE) displays reversed, a zero-width space makes two names look alike, an
//   escape sequence or a newline breaks a single-line surface. They are shown escaped,
//   visibly, as `\u202E`, `\n`, `\u{E0041}`. Lone surrogates too.
// - Length: every function bounds its output (an ellipsis marks the cut).

const WORD_JOINER = '\u2060';
const ELLIPSIS = '…';

export interface PlainTextOptions {
  /** Longest output, in UTF-16 code units, ellipsis included. */
  max: number;
  /** Keep line breaks and tabs (CRLF becomes LF); otherwise they are shown as `\n`, `\t`. */
  multiline: boolean;
  /** Neutralise `$(icon)` syntax. */
  icons: boolean;
  /** Neutralise `[label](target)` links. */
  links: boolean;
}

export const LABEL_MAX = 200;
export const MESSAGE_MAX = 1000;
export const DETAIL_MAX = 8000;

/** For a tree item label or description, the status bar, a quick pick item: one line, no icons. */
export function plainLabel(text: unknown, max = LABEL_MAX): string {
  return plainText(text, { max, multiline: false, icons: true, links: true });
}

/** For a notification message (showInformation/Warning/ErrorMessage): no links, no icons, one line. */
export function plainMessage(text: unknown, max = MESSAGE_MAX): string {
  return plainText(text, { max, multiline: false, icons: true, links: true });
}

/** For multi-line plain text: a modal's detail, a string tooltip, an output channel line. */
export function plainDetail(text: unknown, max = DETAIL_MAX): string {
  return plainText(text, { max, multiline: true, icons: true, links: true });
}

/**
 * For a MarkdownString (hover, tooltip) built from untrusted text: plainDetail, then
 * every markdown metacharacter escaped with a backslash, as MarkdownString.appendText
 * does, so nothing becomes a link, an image, a heading or HTML.
 */
export function plainMarkdown(text: unknown, max = DETAIL_MAX): string {
  return plainText(text, { max, multiline: true, icons: true, links: true }).replace(/[\\`*_{}[\]()#+\-.!<>|~&$]/g, '\\$&');
}

/** The general form; the named helpers above are what surfaces use. */
export function plainText(text: unknown, options: PlainTextOptions): string {
  const input = typeof text === 'string' ? text : text === undefined || text === null ? '' : String(text);
  const max = Math.max(1, Math.floor(options.max));
  const pieces: string[] = [];
  let length = 0;
  let i = 0;
  while (i < input.length) {
    const cp = input.codePointAt(i)!;
    let size = cp > 0xffff ? 2 : 1;
    let piece: string;
    if (cp === 0x1f3f4) {
      // A subdivision flag (England, Scotland, Wales) is the only legitimate use of tag characters.
      FLAG_TAGS.lastIndex = i;
      const flag = FLAG_TAGS.exec(input);
      piece = flag ? flag[0] : input.slice(i, i + size);
      size = piece.length;
    } else if (cp === 0x0d && input.charCodeAt(i + 1) === 0x0a && options.multiline) {
      piece = '\n';
      size = 2;
    } else if (cp === 0x0a || cp === 0x09) {
      piece = options.multiline ? String.fromCharCode(cp) : cp === 0x0a ? '\\n' : '\\t';
    } else if (cp === 0x0d) {
      piece = '\\r';
    } else if (mustEscape(cp, input, i, size)) {
      piece = escapeCodePoint(cp);
    } else if (cp === 0x24 && options.icons && input.charCodeAt(i + 1) === 0x28) {
      piece = `$${WORD_JOINER}`; // `$(`
    } else if (cp === 0x5d && options.links && input.charCodeAt(i + 1) === 0x28) {
      piece = `]${WORD_JOINER}`; // `](`
    } else {
      piece = input.slice(i, i + size);
    }
    if (length + piece.length > max) return cut(pieces, length, max);
    pieces.push(piece);
    length += piece.length;
    i += size;
  }
  return pieces.join('');
}

/** Drops pieces until the ellipsis fits (never splitting an escape or a surrogate pair). */
function cut(pieces: string[], length: number, max: number): string {
  while (pieces.length > 0 && length + ELLIPSIS.length > max) length -= pieces.pop()!.length;
  return pieces.join('') + ELLIPSIS;
}

const FLAG_TAGS = /\u{1F3F4}[\u{E0020}-\u{E007E}]{1,30}\u{E007F}/uy;
/** Scripts whose writing uses ZWJ/ZWNJ between letters; both neighbours must be of the same one. */
const JOINING_SCRIPTS = [
  /[\p{scx=Arab}\p{M}]/u,
  /[\p{scx=Syrc}\p{M}]/u,
  /[\p{scx=Nkoo}\p{M}]/u,
  /[\p{scx=Mong}\p{M}]/u,
  /[\p{scx=Deva}\p{M}]/u,
  /[\p{scx=Beng}\p{M}]/u,
  /[\p{scx=Guru}\p{M}]/u,
  /[\p{scx=Gujr}\p{M}]/u,
  /[\p{scx=Orya}\p{M}]/u,
  /[\p{scx=Taml}\p{M}]/u,
  /[\p{scx=Telu}\p{M}]/u,
  /[\p{scx=Knda}\p{M}]/u,
  /[\p{scx=Mlym}\p{M}]/u,
  /[\p{scx=Sinh}\p{M}]/u,
];
const PICTOGRAPH = /^(?:\p{Extended_Pictographic}|[\u{1F3FB}-\u{1F3FF}]|\uFE0F)$/u;

/** `\u202E` for BMP code points (and lone surrogates), `\u{E0041}` above. */
export function escapeCodePoint(cp: number): string {
  const hex = cp.toString(16).toUpperCase();
  return cp > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
}

/** Control, bidirectional, invisible and non-characters, and lone surrogates. */
function mustEscape(cp: number, input: string, i: number, size: number): boolean {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true; // C0, DEL, C1
  if (cp < 0xad) return false; // the common case, quickly
  if (cp >= 0xd800 && cp <= 0xdfff) return true; // a lone surrogate (codePointAt gives the unit itself)
  if (cp === 0x200c || cp === 0x200d) return !joinerBelongs(cp, input, i, size);
  return (
    cp === 0xad || // soft hyphen
    cp === 0x34f || // combining grapheme joiner
    cp === 0x61c || // arabic letter mark
    cp === 0x115f ||
    cp === 0x1160 || // hangul fillers
    cp === 0x17b4 ||
    cp === 0x17b5 ||
    (cp >= 0x180b && cp <= 0x180f) || // mongolian selectors and vowel separator
    (cp >= 0x200b && cp <= 0x200f) || // zero-width space, LRM, RLM
    (cp >= 0x2028 && cp <= 0x202e) || // line/paragraph separators, LRE RLE PDF LRO RLO
    (cp >= 0x2060 && cp <= 0x206f) || // word joiner, invisible operators, LRI RLI FSI PDI, deprecated formats
    cp === 0x3164 ||
    cp === 0xffa0 || // hangul fillers
    cp === 0xfeff || // zero-width no-break space / BOM
    (cp >= 0xfff9 && cp <= 0xfffb) || // interlinear annotations
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe || // non-characters
    (cp >= 0x1d173 && cp <= 0x1d17a) || // musical formatting
    (cp >= 0xe0000 && cp <= 0xe007f) // tags (a flag's were taken whole above)
  );
}

/**
 * ZWJ and ZWNJ are part of writing in several scripts (Persian, the Indic scripts) and
 * of emoji sequences (👨‍👩‍👧): kept between two letters (or a letter and a combining
 * mark such as a virama) of one script that uses them, or between two pictographs;
 * escaped anywhere else, where they only make look-alikes.
 */
function joinerBelongs(cp: number, input: string, i: number, size: number): boolean {
  const before = previousCodePoint(input, i);
  const after = input.codePointAt(i + size);
  if (before === undefined || after === undefined) return false;
  const b = String.fromCodePoint(before);
  const a = String.fromCodePoint(after);
  if (before > 0x24f && after > 0x24f && JOINING_SCRIPTS.some((script) => script.test(b) && script.test(a)) && !(isMark(b) && isMark(a))) return true;
  return cp === 0x200d && PICTOGRAPH.test(b) && PICTOGRAPH.test(a);
}

const MARK = /\p{M}/u;
function isMark(ch: string): boolean {
  return MARK.test(ch);
}

function previousCodePoint(input: string, i: number): number | undefined {
  if (i === 0) return undefined;
  const low = input.charCodeAt(i - 1);
  if (low >= 0xdc00 && low <= 0xdfff && i >= 2) {
    const high = input.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) return input.codePointAt(i - 2);
  }
  return low;
}

/**
 * For a terminal: control characters, DEL, C1 and the bidirectional controls shown
 * escaped as `\uXXXX`, so text from the record or an agent never moves the cursor, sets
 * a title, makes a link or reverses a line. One line (a title, a path, an owner): the
 * line feed too, so a title cannot print a forged line of its own under it. `multiline`
 * (a document, an agent's text) keeps line feeds and tabs. Not bounded.
 */
export function terminalText(text: string, options: { multiline?: boolean } = {}): string {
  return text.replace(options.multiline ? TERMINAL_CONTROLS_MULTILINE : TERMINAL_CONTROLS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROLS_MULTILINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
