// Which test command a project has, read from its own files, so the default pipeline
// verifies the Test stage (and Implement) on positive evidence — the project's tests
// and their report — instead of an agent's clean exit. Proposed when pipeline.json is
// first written (by `init` or the first Start Change) and editable there.
//
// Only files are read, nothing runs: this works in an untrusted folder too.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DetectedTests } from '../core/pipeline';

const REPORT = 'test-results/junit.xml';
/** What `npm init` writes when a project has no tests. */
const NPM_NO_TESTS = /no test specified/;

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function exists(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The project's test command with a report when one of the common runners is there; undefined when none is found. */
export function detectTestCommand(root: string): DetectedTests | undefined {
  const pkg = readJson(path.join(root, 'package.json'));
  if (pkg) {
    const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
    const test = typeof scripts.test === 'string' ? scripts.test : '';
    const deps = { ...((pkg.dependencies ?? {}) as object), ...((pkg.devDependencies ?? {}) as object) } as Record<string, unknown>;
    if (test && !NPM_NO_TESTS.test(test)) {
      if ('vitest' in deps || /\bvitest\b/.test(test)) {
        return { argv: ['npx', 'vitest', 'run', '--reporter=default', '--reporter=junit', `--outputFile=${REPORT}`], reports: [REPORT], format: 'junit', source: 'vitest (package.json)' };
      }
      if ('mocha' in deps || /\bmocha\b/.test(test)) {
        return { argv: ['npx', 'mocha', '--reporter', 'xunit', '--reporter-option', `output=${REPORT}`], reports: [REPORT], format: 'junit', source: 'mocha (package.json)' };
      }
      if (/\bnode\s+--test\b/.test(test)) {
        return {
          argv: ['node', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=junit', `--test-reporter-destination=${REPORT}`],
          reports: [REPORT],
          format: 'junit',
          source: 'node --test (package.json)',
        };
      }
      if ('jest' in deps && 'jest-junit' in deps) {
        return { argv: ['npx', 'jest', '--ci', '--reporters=default', '--reporters=jest-junit'], env: { JEST_JUNIT_OUTPUT_DIR: 'test-results', JEST_JUNIT_OUTPUT_NAME: 'junit.xml' }, reports: [REPORT], format: 'junit', source: 'jest with jest-junit (package.json)' };
      }
      // Some other runner: its exit code is the evidence.
      return { argv: ['npm', 'test'], source: 'npm test (package.json)' };
    }
  }
  if (exists(path.join(root, 'pytest.ini')) || exists(path.join(root, 'conftest.py')) || /\[tool\.pytest/.test(readText(path.join(root, 'pyproject.toml')))) {
    return { argv: ['python3', '-m', 'pytest', `--junitxml=${REPORT}`], reports: [REPORT], format: 'junit', source: 'pytest' };
  }
  if (exists(path.join(root, 'go.mod'))) return { argv: ['go', 'test', './...'], source: 'go test (go.mod)' };
  if (exists(path.join(root, 'Cargo.toml'))) return { argv: ['cargo', 'test'], source: 'cargo test (Cargo.toml)' };
  return undefined;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
