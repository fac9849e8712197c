// JUnit and TAP parsing on reports written at test time by Node's own reporters, plus
// small hand-written documents for shapes Node does not produce (nested suites with
// file/line, declared totals that lie, hostile DTDs, truncation, encodings).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseJUnit } from '../../../src/verify/junit';
import { parseTap } from '../../../src/verify/tap';
import { ReportParseError, type ParsedReport } from '../../../src/verify/report';
import { makeWorkspace, NODE, removeDir, writeIn } from './helpers';

const SAMPLE_TESTS = `
import test from 'node:test';
import assert from 'node:assert';
test('adds', () => { assert.strictEqual(1 + 1, 2); });
test('compares', () => { assert.strictEqual(1 + 1, 3); });
test('skipped one', { skip: 'not today' }, () => {});
test('todo one', { todo: 'later' }, () => {});
test('group', async (t) => {
  await t.test('inner pass', () => {});
  await t.test('inner fail', () => { throw new Error('boom inner'); });
});
`;

describe('verify/parsers on reports written by node --test', function () {
  this.timeout(30_000);
  let dir: string;
  let junit: ParsedReport;
  let tap: ParsedReport;

  before(async () => {
    dir = await makeWorkspace();
    await writeIn(dir, 'sample.test.mjs', SAMPLE_TESTS);
    await promisify(execFile)(
      NODE,
      ['--test', '--test-reporter=junit', '--test-reporter-destination=out.xml', '--test-reporter=tap', '--test-reporter-destination=out.tap', 'sample.test.mjs'],
      { cwd: dir },
    ).catch((error: { code?: number }) => assert.equal(error.code, 1, 'the sample has failing tests, so node --test exits 1'));
    junit = parseJUnit(await readFile(path.join(dir, 'out.xml')), 'out.xml');
    tap = parseTap(await readFile(path.join(dir, 'out.tap')), 'out.tap');
  });
  after(() => removeDir(dir));

  it('JUnit: counts every testcase, nested suites included, with failures and skips', () => {
    assert.deepEqual(junit.totals, { tests: 6, passed: 2, failures: 2, errors: 0, skipped: 2, todo: 0 });
    assert.deepEqual(
      junit.cases.map((c) => [c.suite.join('/'), c.name, c.status]),
      [
        ['', 'adds', 'passed'],
        ['', 'compares', 'failed'],
        ['', 'skipped one', 'skipped'],
        ['', 'todo one', 'skipped'],
        ['group', 'inner pass', 'passed'],
        ['group', 'inner fail', 'failed'],
      ],
    );
  });

  it('JUnit: failure message, expected/actual and durations', () => {
    const compares = junit.cases.find((c) => c.name === 'compares')!;
    assert.equal(compares.problems[0]?.kind, 'failure');
    assert.match(compares.problems[0]?.message ?? '', /Expected values to be strictly equal/);
    assert.equal(compares.problems[0]?.expected, '3');
    assert.equal(compares.problems[0]?.actual, '2');
    assert.ok(typeof compares.durationMs === 'number' && compares.durationMs >= 0);
    assert.equal(junit.cases.find((c) => c.name === 'skipped one')?.skipMessage, 'not today');
    assert.match(junit.cases.find((c) => c.name === 'inner fail')?.problems[0]?.details ?? '', /boom inner/);
  });

  it('JUnit: notes that the declared suite totals disagree with the counted cases', () => {
    // Node's reporter only puts counts on the nested <testsuite> ("group": tests=2).
    assert.deepEqual(junit.declared, { tests: 2, failures: 1, errors: 0, skipped: 0 });
    assert.ok(junit.notes.some((n) => n.startsWith('declared totals disagree') && n.includes('tests=2 declared, 6 counted')), junit.notes.join('\n'));
  });

  it('TAP: counts top-level test points, SKIP and TODO apart, subtests kept as children', () => {
    assert.deepEqual(tap.totals, { tests: 5, passed: 1, failures: 2, errors: 0, skipped: 1, todo: 1 });
    assert.deepEqual(
      tap.cases.map((c) => [c.name, c.status]),
      [
        ['adds', 'passed'],
        ['compares', 'failed'],
        ['skipped one', 'skipped'],
        ['todo one', 'todo'],
        ['group', 'failed'],
      ],
    );
    const group = tap.cases[4]!;
    assert.deepEqual(
      group.children?.map((c) => [c.name, c.status]),
      [
        ['inner pass', 'passed'],
        ['inner fail', 'failed'],
      ],
    );
    assert.equal(group.children?.[1]?.problems[0]?.message, 'boom inner');
    assert.deepEqual(tap.declared, { tests: 5 });
    assert.deepEqual(tap.notes, []);
  });

  it('TAP: expected/actual, location and duration from the YAML diagnostics', () => {
    const compares = tap.cases[1]!;
    assert.equal(compares.problems[0]?.expected, '3');
    assert.equal(compares.problems[0]?.actual, '2');
    assert.equal(compares.location?.file, path.join(dir, 'sample.test.mjs'));
    assert.equal(compares.location?.line, 5);
    assert.ok(typeof compares.durationMs === 'number');
  });

  it('a run without tests gives a report with zero cases and says so', async () => {
    // node --test on a folder without test files exits 0 having run nothing: the vacuous pass to catch.
    await mkdir(path.join(dir, 'no-tests'));
    await promisify(execFile)(NODE, ['--test', '--test-reporter=junit', '--test-reporter-destination=empty.xml', '--test-reporter=tap', '--test-reporter-destination=empty.tap', 'no-tests/'], { cwd: dir });
    const emptyJUnit = parseJUnit(await readFile(path.join(dir, 'empty.xml')));
    const emptyTap = parseTap(await readFile(path.join(dir, 'empty.tap')));
    assert.equal(emptyJUnit.totals.tests, 0);
    assert.ok(emptyJUnit.notes.includes('the report has no test cases'));
    assert.equal(emptyTap.totals.tests, 0);
    assert.ok(emptyTap.notes.includes('the report has no test points'));
  });
});

describe('verify/junit on hand-written documents', () => {
  it('reads nested suites, cases directly under <testsuites>, file/line locations and several results in one case', () => {
    const report = parseJUnit(`<?xml version="1.0"?>
<testsuites tests="9" failures="0">
  <testsuite name="outer" file="spec/outer.py">
    <testsuite name="inner">
      <testcase name="a" classname="m.A" file="spec/a.py" line="12" time="1.5"/>
    </testsuite>
    <testcase name="b" time="0.25"><failure message="boom" type="AssertionError" expected="1" actual="2">trace</failure><error message="teardown"/></testcase>
    <failure message="not a test"/>
  </testsuite>
  <testcase name="c"><skipped message="later"/></testcase>
  <testcase name="d"><flakyFailure message="passed on retry"/></testcase>
</testsuites>`);
    assert.deepEqual(report.totals, { tests: 4, passed: 2, failures: 1, errors: 1, skipped: 1, todo: 0 });
    const [a, b, c, d] = report.cases;
    assert.deepEqual(a?.suite, ['outer', 'inner']);
    assert.deepEqual(a?.location, { file: 'spec/a.py', line: 12 });
    assert.equal(a?.durationMs, 1500);
    assert.equal(b?.status, 'error');
    assert.deepEqual(b?.location, { file: 'spec/outer.py' });
    assert.deepEqual(
      b?.problems.map((p) => [p.kind, p.message, p.expected, p.actual]),
      [
        ['failure', 'boom', '1', '2'],
        ['error', 'teardown', undefined, undefined],
      ],
    );
    assert.equal(c?.status, 'skipped');
    assert.equal(d?.status, 'passed');
    assert.ok(report.notes[0]?.includes('tests=9 declared, 4 counted'));
  });

  it('decodes the predefined entities and character references, leaves CDATA as written', () => {
    const report = parseJUnit(`<testsuite><testcase name="x &amp; y &#x1F600;"><failure message="a&#10;b &apos;q&apos;"><![CDATA[raw &amp; <tag>]]></failure></testcase></testsuite>`);
    assert.equal(report.cases[0]?.name, 'x & y 😀');
    assert.equal(report.cases[0]?.problems[0]?.message, "a\nb 'q'");
    assert.equal(report.cases[0]?.problems[0]?.details, 'raw &amp; <tag>');
  });

  it('honours the encoding in the XML declaration', () => {
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><testsuite><testcase name="caf\xe9"/></testsuite>', 'latin1');
    assert.equal(parseJUnit(latin1).cases[0]?.name, 'café');
  });

  it('refuses a DOCTYPE with an external entity and never fetches it', async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.end('<!ENTITY oob "expanded">');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const hostile = `<?xml version="1.0"?>
<!DOCTYPE testsuites [
  <!ENTITY % remote SYSTEM "http://127.0.0.1:${port}/evil.dtd">
  %remote;
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<testsuites><testsuite><testcase name="&secret;&oob;"/></testsuite></testsuites>`;
      assert.throws(
        () => parseJUnit(hostile, 'evil.xml'),
        (error: unknown) => error instanceof ReportParseError && error.source === 'evil.xml' && /DOCTYPE/.test(error.detail),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(requests, 0);
    } finally {
      server.close();
    }
  });

  it('refuses internal entity declarations (no expansion, no billion laughs)', () => {
    assert.throws(() => parseJUnit('<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]><testsuite><testcase name="&b;"/></testsuite>'), ReportParseError);
  });

  it('an undefined entity is an error, not left as text', () => {
    assert.throws(() => parseJUnit('<testsuite><testcase name="&nbsp;"/></testsuite>'), /undefined entity &nbsp;/);
  });

  it('a truncated file is a parse error that says so', () => {
    assert.throws(
      () => parseJUnit('<?xml version="1.0"?>\n<testsuites><testsuite name="s"><testcase name="a">', 'cut.xml'),
      (error: unknown) => error instanceof ReportParseError && /cut\.xml/.test(error.message) && /unclosed/.test(error.detail),
    );
  });

  it('a document that is not JUnit is a parse error', () => {
    assert.throws(() => parseJUnit('<html><body/></html>'), /root element is <html>/);
    assert.throws(() => parseJUnit(''), ReportParseError);
  });
});

describe('verify/tap on hand-written streams', () => {
  it('Bail out! is recorded and leaves no counted tests', () => {
    const report = parseTap('TAP version 13\n# Subtest: nested\n    ok 1 - first\nBail out! database down\n1..2\n');
    assert.equal(report.bailout, 'database down');
    assert.equal(report.totals.tests, 0);
    assert.ok(report.notes.some((n) => n.startsWith('Bail out!')));
  });

  it('a plan that disagrees with the test points is noted', () => {
    const report = parseTap('TAP version 13\nok 1 - a\nnot ok 2 - b # TODO not yet\n1..4\n');
    assert.deepEqual(report.totals, { tests: 2, passed: 1, failures: 0, errors: 0, skipped: 0, todo: 1 });
    assert.ok(report.notes.some((n) => n.includes('tests=4 declared, 2 counted')));
  });

  it('text without any TAP in it is a parse error', () => {
    assert.throws(() => parseTap('hello\nworld\n', 'notes.txt'), /notes\.txt: no TAP content/);
  });
});
