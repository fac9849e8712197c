// The test module the workbench loads into the real extension host
// (`extensionTestsPath`). mocha's reporter output would land in the browser console,
// so results go to a JSON file the runner reads, and each one is also posted to the
// runner's driver so it can print a line per test as they finish.
import { writeFileSync } from 'node:fs';
import { runConfig, driver } from './support/driver';

interface TestResult {
  fullTitle: string;
  state: 'passed' | 'failed' | 'skipped';
  durationMs: number;
  error?: string;
}

export async function run(): Promise<void> {
  const config = runConfig();
  // mocha 12 is ESM-only.
  const { default: Mocha } = await import('mocha');
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'dot' });
  const results: TestResult[] = [];
  const record = async (result: TestResult) => {
    results.push(result);
    await driver('result', { test: result }).catch(() => undefined);
  };

  // Load each bundled test file the way mocha's own loader does: install the BDD
  // globals for that file, then require it.
  for (const file of config.files) {
    mocha.suite.emit('pre-require', globalThis, file, mocha);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file);
    mocha.suite.emit('post-require', globalThis, file, mocha);
  }

  // A root hook reports each test before the next one starts, so the runner's
  // screenshot of a failure shows the workbench as the failing test left it.
  mocha.suite.afterEach(async function () {
    const test = this.currentTest;
    if (!test) return;
    const failed = test.state === 'failed';
    await record({ fullTitle: test.fullTitle(), state: failed ? 'failed' : 'passed', durationMs: test.duration ?? 0, ...(failed ? { error: test.err?.stack ?? String(test.err) } : {}) });
  });
  const pending: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('fail', (runnable: Mocha.Runnable, error: Error) => {
      // A failing hook is not a test: report it here, since no afterEach follows it.
      if ((runnable as Mocha.Runnable & { type?: string }).type === 'hook') pending.push(record({ fullTitle: runnable.fullTitle(), state: 'failed', durationMs: 0, error: error?.stack ?? String(error) }));
    });
    runner.on('pending', (test) => pending.push(record({ fullTitle: test.fullTitle(), state: 'skipped', durationMs: 0 })));
  });
  await Promise.all(pending);
  const count = (state: TestResult['state']) => results.filter((r) => r.state === state).length;
  writeFileSync(
    config.resultsFile,
    JSON.stringify({ passed: count('passed'), failed: count('failed'), skipped: count('skipped'), tests: results }, null, 2),
  );
  if (count('failed') > 0) throw new Error(`${count('failed')} test(s) failed`);
}
