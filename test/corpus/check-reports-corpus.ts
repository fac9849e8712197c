// Parses every report listed in the shared corpus's MANIFEST.tsv with the project's
// own parsers and compares the counted cases with the expected counts.
//   npx tsx test/corpus/check-reports-corpus.ts [corpusDir]
// corpusDir defaults to ../shared/reports-corpus beside the repository (as in CI).
// Prints one line per file and a closing "N passed, N failed"; exits 1 on any mismatch.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJUnit } from '../../src/verify/junit';
import { parseTap } from '../../src/verify/tap';
import { ReportParseError, type ParsedReport } from '../../src/verify/report';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpusDir = path.resolve(process.argv[2] ?? path.join(repoRoot, '..', 'shared', 'reports-corpus'));

interface ManifestRow {
  file: string;
  format: string;
  expected: string; // "tests=5 failures=1 errors=0 skipped=2 todo=-" or "PARSE_ERROR"
}

async function readManifest(): Promise<ManifestRow[]> {
  const text = await readFile(path.join(corpusDir, 'MANIFEST.tsv'), 'utf8');
  const [header, ...lines] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const columns = (header ?? '').split('\t');
  const index = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`MANIFEST.tsv has no "${name}" column`);
    return i;
  };
  const [file, format, tests, failures, errors, skipped, todo] = ['file', 'format', 'tests', 'failures', 'errors', 'skipped', 'todo'].map(index) as number[];
  return lines.map((line) => {
    const cells = line.split('\t');
    const cell = (i: number | undefined) => cells[i ?? -1] ?? '';
    const expected =
      cell(tests) === 'PARSE_ERROR'
        ? 'PARSE_ERROR'
        : `tests=${cell(tests)} failures=${cell(failures)} errors=${cell(errors)} skipped=${cell(skipped)}` + (cell(todo) === '-' ? '' : ` todo=${cell(todo)}`);
    return { file: cell(file), format: cell(format), expected };
  });
}

function describe(report: ParsedReport, withTodo: boolean): string {
  const t = report.totals;
  return `tests=${t.tests} failures=${t.failures} errors=${t.errors} skipped=${t.skipped}` + (withTodo ? ` todo=${t.todo}` : '');
}

async function check(row: ManifestRow): Promise<{ ok: boolean; line: string }> {
  let actual: string;
  let extra = '';
  try {
    const bytes = await readFile(path.join(corpusDir, row.file));
    const report = row.format === 'tap' ? parseTap(bytes, row.file) : parseJUnit(bytes, row.file);
    actual = describe(report, row.expected.includes('todo='));
    if (report.notes.length) extra = `  (${report.notes.join('; ')})`;
  } catch (error) {
    if (!(error instanceof ReportParseError)) throw error;
    actual = 'PARSE_ERROR';
    extra = `  (${error.detail})`;
  }
  const ok = actual === row.expected;
  return { ok, line: `${ok ? 'ok  ' : 'FAIL'} ${row.file}: ${actual}${ok ? '' : ` (expected ${row.expected})`}${extra}` };
}

async function main(): Promise<void> {
  const rows = await readManifest();
  let passed = 0;
  let failed = 0;
  for (const row of rows) {
    let result: { ok: boolean; line: string };
    try {
      result = await check(row);
    } catch (error) {
      result = { ok: false, line: `FAIL ${row.file}: ${(error as Error).message}` };
    }
    console.log(result.line);
    if (result.ok) passed++;
    else failed++;
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || rows.length === 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(`check-reports-corpus: ${(error as Error).message} (corpus: ${corpusDir})`);
  process.exitCode = 2;
});
