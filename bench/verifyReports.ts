// Parsing speed of large test reports (JUnit XML and TAP) and the memory a noisy
// command's capture keeps. Prints numbers; never fails on time.
//   npx tsx bench/verifyReports.ts
import { performance } from 'node:perf_hooks';
import { parseJUnit } from '../src/verify/junit';
import { parseTap } from '../src/verify/tap';
import { runProcess } from '../src/verify/process';

function junitDocument(cases: number): string {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>'];
  for (let suite = 0; suite < cases / 100; suite++) {
    parts.push(`<testsuite name="suite ${suite}" tests="100">`);
    for (let i = 0; i < 100; i++) {
      const n = suite * 100 + i;
      if (n % 50 === 0) parts.push(`<testcase name="case ${n}" classname="pkg.Suite${suite}" time="0.001"><failure message="expected 1 &amp; got 2">stack line &lt;1&gt;\n  at x (file.js:1:1)</failure></testcase>`);
      else if (n % 20 === 0) parts.push(`<testcase name="case ${n}" time="0.001"><skipped/></testcase>`);
      else parts.push(`<testcase name="case ${n}" classname="pkg.Suite${suite}" file="src/s${suite}.test.ts" line="${i + 1}" time="0.001"/>`);
    }
    parts.push('</testsuite>');
  }
  parts.push('</testsuites>');
  return parts.join('\n');
}

function tapDocument(cases: number): string {
  const lines = ['TAP version 13'];
  for (let n = 1; n <= cases; n++) {
    if (n % 50 === 0) lines.push(`not ok ${n} - case ${n}`, '  ---', "  error: 'boom'", '  expected: 1', '  actual: 2', '  ...');
    else if (n % 20 === 0) lines.push(`ok ${n} - case ${n} # SKIP later`);
    else lines.push(`ok ${n} - case ${n}`, '  ---', '  duration_ms: 0.5', '  ...');
  }
  lines.push(`1..${cases}`);
  return lines.join('\n') + '\n';
}

function time<T>(label: string, bytes: number, body: () => T): T {
  body(); // warm up
  const runs = 3;
  const started = performance.now();
  let result!: T;
  for (let i = 0; i < runs; i++) result = body();
  const ms = (performance.now() - started) / runs;
  console.log(`${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(1).padStart(6)} MB/s`);
  return result;
}

async function main(): Promise<void> {
  for (const cases of [1_000, 20_000]) {
    const junit = junitDocument(cases);
    const report = time(`JUnit ${cases} cases (${(junit.length / 1024).toFixed(0)} KB)`, junit.length, () => parseJUnit(junit));
    if (report.totals.tests !== cases) throw new Error('JUnit count mismatch');
    const tap = tapDocument(cases);
    const tapReport = time(`TAP ${cases} points (${(tap.length / 1024).toFixed(0)} KB)`, tap.length, () => parseTap(tap));
    if (tapReport.totals.tests !== cases) throw new Error('TAP count mismatch');
  }

  // 50 MB of output through the capture: what stays in memory is the head and tail.
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const script = "const line = 'x'.repeat(1023) + '\\n'; let left = 50 * 1024; (function go() { while (left > 0) { left--; if (!process.stdout.write(line)) return process.stdout.once('drain', go); } })();";
  const result = await runProcess([process.execPath, '-e', script], { cwd: process.cwd(), env: process.env });
  const ms = performance.now() - started;
  console.log(
    `capture 50 MB of stdout      ${ms.toFixed(0).padStart(8)} ms  kept ${(result.stdout.text().length / 1024).toFixed(0)} KB in memory, rss +${((process.memoryUsage().rss - before) / 1024 / 1024).toFixed(0)} MB`,
  );
}

void main();
