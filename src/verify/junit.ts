// JUnit XML reports (the de-facto format of Surefire, Gradle, jest-junit, pytest,
// go-junit-report, PHPUnit, Node's `junit` reporter...). Pure: bytes in, cases out.
//
// Security: a test report is data written by code under test, so it is hostile input.
// Before the parser sees it, the document is decoded (BOM, UTF-16 with or without one,
// the declared encoding) and its markup is scanned in the very string the parser will
// read: comments, CDATA, processing instructions and tags are stepped over exactly, and
// any declaration (`<!DOCTYPE …[…]>`, `<!ENTITY`, `<!ELEMENT`, …) anywhere is refused;
// only a bare `<!DOCTYPE name>` in the prolog passes. So nothing that precedes the
// declaration (a BOM, whitespace, comments, processing instructions, another encoding)
// can hide it. No DTD is ever read, no entity is ever fetched or expanded; the XML
// parser runs with entity processing off and only the five predefined entities and
// numeric character references are decoded here. A document that ends early says
// where it ends (line, column, bytes) and what was still open.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { positionOf } from '../core/json';
import {
  declaredTotalsNote,
  emptyTotals,
  ReportParseError,
  type ParsedReport,
  type TestCase,
  type TestCaseStatus,
  type TestProblem,
  type TestTotals,
} from './report';

type Attrs = Record<string, string>;
/** fast-xml-parser's `preserveOrder` shape: `{ [tag]: children, ':@'?: attrs }` or a text/cdata node. */
type XmlNode = Record<string, unknown>;

interface Element {
  tag: string;
  attrs: Attrs;
  children: XmlNode[];
}

const ATTRS_KEY = ':@';
const TEXT_KEY = '#text';
const CDATA_KEY = '#cdata';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  cdataPropName: CDATA_KEY,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/**
 * Parses a JUnit XML report. `source` names the file in error messages.
 * Throws `ReportParseError` for anything that is not a well-formed JUnit document.
 */
export function parseJUnit(input: string | Uint8Array, source = 'JUnit report'): ParsedReport {
  const decoded = typeof input === 'string' ? input : decodeXmlBytes(input, source);
  // One string from here on: what is scanned is exactly what the validator and parser read.
  const xml = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  const totalBytes = typeof input === 'string' ? undefined : input.byteLength;
  scanMarkup(xml, source, totalBytes);

  const validation = XMLValidator.validate(xml, { allowBooleanAttributes: true });
  if (validation !== true) {
    const { line, col, msg } = validation.err;
    const unclosed = unclosedElements(msg);
    if (unclosed) throw new ReportParseError(source, `not well-formed XML: ${endOf(xml, totalBytes)} with unclosed elements (${unclosed}): is the file truncated?`);
    throw new ReportParseError(source, `not well-formed XML at line ${line}${col !== undefined ? `, column ${col}` : ''}: ${msg}`);
  }

  let nodes: XmlNode[];
  try {
    nodes = parser.parse(xml) as XmlNode[];
  } catch (error) {
    throw new ReportParseError(source, `XML parser refused the document: ${(error as Error).message}`);
  }

  const root = elementsOf(nodes)[0];
  if (!root) throw new ReportParseError(source, 'no root element');
  if (root.tag !== 'testsuites' && root.tag !== 'testsuite') {
    throw new ReportParseError(source, `root element is <${root.tag}>, not <testsuites> or <testsuite>: not a JUnit report`);
  }

  const cases: TestCase[] = [];
  collectCases(root, [], undefined, cases, source);
  const totals = countJUnitCases(cases);
  const declared = declaredTotals(root, source);
  const notes: string[] = [];
  const disagreement = declaredTotalsNote(declared, totals, declaredFrom(root));
  if (disagreement) notes.push(disagreement);
  if (totals.tests === 0) notes.push('the report has no test cases');
  return { format: 'junit', cases, totals, ...(declared ? { declared } : {}), notes };
}

function countJUnitCases(cases: TestCase[]): TestTotals {
  const totals = emptyTotals();
  for (const testCase of cases) {
    totals.tests++;
    if (testCase.problems.some((p) => p.kind === 'failure')) totals.failures++;
    if (testCase.problems.some((p) => p.kind === 'error')) totals.errors++;
    if (testCase.skipMessage !== undefined) totals.skipped++;
    if (testCase.status === 'passed') totals.passed++;
  }
  return totals;
}

function collectCases(element: Element, suite: string[], suiteFile: string | undefined, out: TestCase[], source: string): void {
  for (const child of elementsOf(element.children)) {
    if (child.tag === 'testsuite' || child.tag === 'testsuites') {
      const name = attr(child, 'name', source);
      collectCases(child, name !== undefined ? [...suite, name] : suite, attr(child, 'file', source) ?? suiteFile, out, source);
    } else if (child.tag === 'testcase') {
      out.push(readCase(child, suite, suiteFile, source));
    }
    // Anything else (properties, system-out, a <failure> directly under a suite) is not a test.
  }
}

function readCase(element: Element, suite: string[], suiteFile: string | undefined, source: string): TestCase {
  const problems: TestProblem[] = [];
  let skipMessage: string | undefined;
  for (const child of elementsOf(element.children)) {
    // Only direct <failure>/<error>/<skipped>: Surefire's flakyFailure/rerunFailure are passes on retry.
    if (child.tag === 'failure' || child.tag === 'error') problems.push(readProblem(child, child.tag, source));
    else if (child.tag === 'skipped') skipMessage = attr(child, 'message', source) ?? textOf(child, source).trim();
  }
  const status: TestCaseStatus = problems.some((p) => p.kind === 'error')
    ? 'error'
    : problems.length > 0
      ? 'failed'
      : skipMessage !== undefined
        ? 'skipped'
        : 'passed';

  const file = attr(element, 'file', source) ?? suiteFile;
  const line = positiveInt(attr(element, 'line', source));
  const durationMs = secondsToMs(attr(element, 'time', source));
  const classname = attr(element, 'classname', source);
  return {
    name: attr(element, 'name', source) ?? '(unnamed test case)',
    suite,
    ...(classname !== undefined ? { classname } : {}),
    status,
    problems,
    ...(skipMessage !== undefined ? { skipMessage } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(file ? { location: { file, ...(line !== undefined ? { line } : {}) } } : {}),
  };
}

function readProblem(element: Element, kind: 'failure' | 'error', source: string): TestProblem {
  const message = attr(element, 'message', source);
  const type = attr(element, 'type', source);
  const details = textOf(element, source).trim();
  const comparison = expectedActual(element, details, source);
  return {
    kind,
    ...(message !== undefined ? { message } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(details ? { details } : {}),
    ...comparison,
  };
}

/** Expected/actual from attributes when a reporter writes them, else from Node's inspected AssertionError. */
function expectedActual(element: Element, details: string, source: string): { expected?: string; actual?: string } {
  const expected = attr(element, 'expected', source);
  const actual = attr(element, 'actual', source);
  if (expected !== undefined || actual !== undefined) {
    return { ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) };
  }
  // node --test-reporter=junit prints util.inspect(error): `actual: 2,` / `expected: 3,` lines of the cause.
  const nodeActual = /^\s+actual: (.*?),?$/m.exec(details)?.[1];
  const nodeExpected = /^\s+expected: (.*?),?$/m.exec(details)?.[1];
  if (nodeActual !== undefined && nodeExpected !== undefined && /\boperator: /.test(details)) {
    return { expected: nodeExpected, actual: nodeActual };
  }
  return {};
}

function declaredTotals(root: Element, source: string): ParsedReport['declared'] {
  const own = countAttrs(root, source);
  if (own) return own;
  if (root.tag !== 'testsuites') return undefined;
  let sum: NonNullable<ParsedReport['declared']> | undefined;
  for (const suite of elementsOf(root.children)) {
    if (suite.tag !== 'testsuite') continue;
    const counts = countAttrs(suite, source);
    if (!counts) continue;
    sum ??= {};
    for (const key of ['tests', 'failures', 'errors', 'skipped'] as const) {
      const value = counts[key];
      if (value !== undefined) sum[key] = (sum[key] ?? 0) + value;
    }
  }
  return sum;
}

function declaredFrom(root: Element): string {
  return root.tag === 'testsuites' && !Object.keys(root.attrs).some((k) => ['tests', 'failures', 'errors', 'skipped'].includes(k))
    ? 'sum of the top-level <testsuite> attributes'
    : `attributes of the root <${root.tag}>`;
}

function countAttrs(element: Element, source: string): ParsedReport['declared'] {
  const result: NonNullable<ParsedReport['declared']> = {};
  let any = false;
  for (const key of ['tests', 'failures', 'errors', 'skipped'] as const) {
    const raw = attr(element, key, source);
    if (raw === undefined) continue;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= 0) {
      result[key] = value;
      any = true;
    }
  }
  return any ? result : undefined;
}

// ---- XML plumbing -------------------------------------------------------------------

function elementsOf(nodes: XmlNode[]): Element[] {
  const out: Element[] = [];
  for (const node of nodes) {
    for (const key of Object.keys(node)) {
      if (key === ATTRS_KEY || key === TEXT_KEY || key === CDATA_KEY) continue;
      const children = node[key];
      const attrs = node[ATTRS_KEY];
      out.push({ tag: key, attrs: isRecord(attrs) ? (attrs as Attrs) : {}, children: Array.isArray(children) ? (children as XmlNode[]) : [] });
    }
  }
  return out;
}

function attr(element: Element, name: string, source: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(element.attrs, name)) return undefined;
  const raw = element.attrs[name];
  return typeof raw === 'string' ? decodeEntities(raw, source) : undefined;
}

/** Text and CDATA content, in document order, of an element and its descendants. */
function textOf(element: Element, source: string): string {
  let text = '';
  const walk = (nodes: XmlNode[], inCdata: boolean) => {
    for (const node of nodes) {
      if (typeof node[TEXT_KEY] === 'string') text += inCdata ? node[TEXT_KEY] : decodeEntities(node[TEXT_KEY], source);
      else if (Array.isArray(node[CDATA_KEY])) walk(node[CDATA_KEY] as XmlNode[], true);
      else for (const child of elementsOf([node])) walk(child.children, inCdata);
    }
  };
  walk(element.children, false);
  return text;
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML's five predefined entities and character references; any other entity is an error (never expanded). */
function decodeEntities(text: string, source: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new ReportParseError(source, `invalid character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const value = PREDEFINED[ref];
    if (value === undefined) throw new ReportParseError(source, `undefined entity ${whole} (entities other than XML's predefined ones are never expanded)`);
    return value;
  });
}

const DTD_REFUSED =
  'refused: the document has a DOCTYPE with an internal subset or an external identifier, or another markup declaration (entity declarations / external DTD, a possible XXE); test reports never need one and it is not read';

/**
 * Steps through the markup of `xml` the way an XML parser must: comments to the first
 * `-->`, CDATA to the first `]]>`, processing instructions to the first `?>`, tags to
 * their `>` (quoted attribute values included). Any `<!` that opens neither a comment
 * nor CDATA is a markup declaration and is refused, except one bare `<!DOCTYPE name>`
 * before the root element. Where the parser could read the text two ways, the scan
 * takes the way that shows more of it (first terminator, `<` never allowed inside a
 * tag, `--` never inside a comment), so nothing can be hidden from it. A construct
 * left open at the end of the text means the file was cut short, and says where.
 */
function scanMarkup(xml: string, source: string, totalBytes: number | undefined): void {
  const at = (offset: number) => {
    const p = positionOf(xml, offset);
    return `line ${p.line}, column ${p.column}`;
  };
  const truncated = (what: string, offset: number) =>
    new ReportParseError(source, `not well-formed XML: ${endOf(xml, totalBytes)} inside ${what} opened at ${at(offset)}: is the file truncated?`);
  let seenRoot = false;
  let seenDoctype = false;
  let i = 0;
  for (;;) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt === -1 ? xml.length : lt;
    if (!seenRoot && /\S/.test(xml.slice(i, textEnd))) {
      throw new ReportParseError(source, `not well-formed XML: text before the root element at ${at(i + xml.slice(i, textEnd).search(/\S/))}`);
    }
    if (lt === -1) {
      if (!seenRoot) throw new ReportParseError(source, `not well-formed XML: ${endOf(xml, totalBytes)} before any element: is the file empty or truncated?`);
      return;
    }
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end === -1) throw truncated('a comment', lt);
      if (xml.slice(lt + 4, end).includes('--')) throw new ReportParseError(source, `not well-formed XML: "--" inside the comment at ${at(lt)}`);
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      if (!seenRoot) throw new ReportParseError(source, `not well-formed XML: a CDATA section before the root element at ${at(lt)}`);
      const end = xml.indexOf(']]>', lt + 9);
      if (end === -1) throw truncated('a CDATA section', lt);
      i = end + 3;
    } else if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt + 2);
      if (end === -1) throw truncated('a processing instruction', lt);
      i = end + 2;
    } else if (xml.startsWith('<!', lt)) {
      const rest = xml.slice(lt);
      // Cut short in the middle of `<!--`, `<![CDATA[` or a declaration: nothing to parse, and nothing parsed.
      if ('<!--'.startsWith(rest) || '<![CDATA['.startsWith(rest) || !rest.includes('>')) throw truncated('markup', lt);
      const bare = /^<!DOCTYPE[ \t\r\n]+[A-Za-z_:][\w:.-]*[ \t\r\n]*>/.exec(xml.slice(lt, lt + 300));
      if (bare && !seenRoot && !seenDoctype) {
        seenDoctype = true; // `<!DOCTYPE testsuites>`: no subset, no identifier, harmless
        i = lt + bare[0].length;
      } else {
        throw new ReportParseError(source, `${DTD_REFUSED} (at ${at(lt)})`);
      }
    } else {
      // A start or end tag: to its `>`, stepping over quoted attribute values.
      let j = lt + 1;
      let quote: string | undefined;
      for (; j < xml.length; j++) {
        const c = xml[j]!;
        if (quote) {
          if (c === quote) quote = undefined;
          else if (c === '<') throw new ReportParseError(source, `not well-formed XML: "<" inside an attribute value at ${at(j)}`);
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
        else if (c === '<') throw new ReportParseError(source, `not well-formed XML: "<" inside the tag opened at ${at(lt)}`);
      }
      if (j >= xml.length) throw truncated(quote ? 'an attribute value of the tag' : 'the tag', lt);
      seenRoot = true;
      i = j + 1;
    }
  }
}

/** "the document ends at line 3, column 17 (after 96 bytes)". */
function endOf(xml: string, totalBytes: number | undefined): string {
  const end = positionOf(xml, xml.length);
  return `the document ends at line ${end.line}, column ${end.column} (after ${totalBytes ?? end.bytes} bytes)`;
}

/** fast-xml-parser says "Invalid '[ "a", "b" ]' found." (or "Unclosed tag 'a'.") for elements left open at the end. */
function unclosedElements(message: string): string | undefined {
  const one = /^Unclosed tag '([^']+)'\.$/.exec(message);
  if (one?.[1]) return `<${one[1]}>`;
  const unclosed = /^Invalid '\[(.*)\]' found\.$/s.exec(message);
  if (!unclosed?.[1]) return undefined;
  const tags = unclosed[1]
    .split(',')
    .map((t) => t.trim().replace(/^"|"$/g, ''))
    .filter(Boolean);
  return tags.length > 0 ? tags.map((t) => `<${t}>`).join(' > ') : undefined;
}

/**
 * The text of an XML document: the encoding from the byte order mark, else from the
 * first bytes (UTF-16 without a BOM, XML 1.0 appendix F), else from the XML
 * declaration, else UTF-8. UTF-32 and EBCDIC are refused rather than misread.
 */
export function decodeXmlBytes(bytes: Uint8Array, source = 'XML document'): string {
  const b = (i: number) => bytes[i];
  if ((b(0) === 0x00 && b(1) === 0x00 && ((b(2) === 0xfe && b(3) === 0xff) || (b(2) === 0x00 && b(3) === 0x3c))) || (b(0) === 0xff && b(1) === 0xfe && b(2) === 0x00 && b(3) === 0x00) || (b(0) === 0x3c && b(1) === 0x00 && b(2) === 0x00 && b(3) === 0x00)) {
    throw new ReportParseError(source, 'the document is UTF-32, which is not supported');
  }
  if (b(0) === 0x4c && b(1) === 0x6f && b(2) === 0xa7 && b(3) === 0x94) throw new ReportParseError(source, 'the document is EBCDIC, which is not supported');
  let encoding = 'utf-8';
  let offset = 0;
  if (b(0) === 0xef && b(1) === 0xbb && b(2) === 0xbf) offset = 3;
  else if (b(0) === 0xff && b(1) === 0xfe) [encoding, offset] = ['utf-16le', 2];
  else if (b(0) === 0xfe && b(1) === 0xff) [encoding, offset] = ['utf-16be', 2];
  else if (b(0) === 0x3c && b(1) === 0x00 && b(2) !== 0x00) encoding = 'utf-16le'; // `<` in UTF-16LE, no BOM
  else if (b(0) === 0x00 && b(1) === 0x3c) encoding = 'utf-16be';
  else {
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 200));
    const declared = /^<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1];
    if (declared) encoding = declared.toLowerCase();
    // An ASCII-compatible document cannot really be UTF-16: the declaration is wrong, and decoding by it would garble the text.
    if (/^utf-?16/.test(encoding)) throw new ReportParseError(source, `the XML declaration says "${declared}" but the bytes are not UTF-16`);
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(encoding, { ignoreBOM: true });
  } catch {
    throw new ReportParseError(source, `unsupported encoding "${encoding}" in the XML declaration`);
  }
  return decoder.decode(bytes.subarray(offset));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

function secondsToMs(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Number(raw.replace(/,/g, ''));
  return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1_000_000) / 1000 : undefined;
}
