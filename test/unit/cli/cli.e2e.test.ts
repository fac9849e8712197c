// The headless CLI end to end: the built dist/cli.js spawned in generated git
// repositories, with a scripted agent CLI standing in for Claude Code
// (test/fixtures/agents/scripted-claude-code.mjs, which really writes files). Every
// `--json` output is parsed with the documented schemas (src/cli/schemas.ts).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  ActionOutputSchema,
  BackendsOutputSchema,
  ChangeListOutputSchema,
  ChangeStartedOutputSchema,
  ContextOutputSchema,
  DoctorOutputSchema,
  ErrorOutputSchema,
  EvidenceOutputSchema,
  RenderOutputSchema,
  RunOutputSchema,
  StatusOutputSchema,
  VerifyOutputSchema,
} from '../../../src/cli/schemas';
import { buildCli, cli, CLI, json, sandbox, type Sandbox } from './helpers';

const parse = <S extends z.ZodType>(schema: S, result: { stdout: string; stderr: string; code: number }): z.infer<S> => schema.parse(json(result));

function start(box: Sandbox, title = 'Add password reset'): string {
  assert.equal(cli(box, ['init']).code, 0);
  const started = cli(box, ['change', 'start', title, '--ticket', 'APP-7', '--branch', 'bindCurrent', '--json']);
  assert.equal(started.code, 0, started.stderr);
  return parse(ChangeStartedOutputSchema, started).change.id;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('cli: factory-cockpit end to end (dist/cli.js)', function () {
  this.timeout(180_000);
  const boxes: Sandbox[] = [];
  const box = (options?: Parameters<typeof sandbox>[0]) => {
    const b = sandbox(options);
    boxes.push(b);
    return b;
  };
  before(() => buildCli());
  after(() => boxes.forEach((b) => b.cleanup()));

  it('--version and --help exit 0; every command has --help with an example', () => {
    const b = box({ git: false });
    const version = cli(b, ['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
    const help = cli(b, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /config\.json/, '--help names the user config file');
    const commands = [
      ['init'], ['status'], ['change', 'start'], ['change', 'list'], ['change', 'switch'], ['context', 'add'], ['context', 'note'], ['context', 'list'], ['context', 'render'],
      ['run'], ['stop'], ['retry'], ['approve'], ['send-back'], ['done'], ['verify'], ['evidence', 'verify'], ['backends'], ['doctor'],
    ];
    for (const command of commands) {
      const result = cli(b, [...command, '--help']);
      assert.equal(result.code, 0, command.join(' '));
      assert.match(result.stdout, /Examples?:\n\s+\$ factory-cockpit /, `${command.join(' ')} --help shows an example`);
    }
  });

  it('runs a change through its stages: init → start → context → run → verify → approve → run --auto → send-back → status', () => {
    const b = box({
      steps: [
        { text: 'Here is the plan.', read: ['notes.md'], write: { 'PLAN.md': '# Plan\n\n1. Token table\n' } },
        { text: 'Implemented the reset.', write: { 'src/reset.js': 'export const reset = () => true;\n' } },
        { text: 'Tests written.', write: { 'test/reset.test.js': '// ok\n' } },
      ],
    });
    const changeId = start(b);

    const added = cli(b, ['context', 'add', 'notes.md', '--json']);
    assert.equal(added.code, 0, added.stderr);
    const pack = parse(ContextOutputSchema, added);
    assert.equal(pack.items.length, 1);
    assert.equal(pack.items[0]!.kind, 'file');
    assert.equal(cli(b, ['context', 'note', 'Tokens expire after an hour']).code, 0);
    const listed = parse(ContextOutputSchema, cli(b, ['context', 'list', '--json']));
    assert.deepEqual(listed.items.map((i) => i.kind).sort(), ['file', 'note']);
    const rendered = parse(RenderOutputSchema, cli(b, ['context', 'render', '--budget', '4000', '--json']));
    assert.match(rendered.text, /Tokens expire after an hour/);

    const plan = cli(b, ['run', '--json']);
    assert.equal(plan.code, 0, plan.stderr);
    const planRun = parse(RunOutputSchema, plan);
    assert.equal(planRun.stageId, 'plan');
    assert.equal(planRun.stopped, 'approval');
    assert.match(plan.stderr, /Here is the plan\./, 'the live transcript goes to stderr');
    assert.ok(existsSync(join(b.dir, 'PLAN.md')));

    const verified = cli(b, ['verify', 'plan', '--json']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(parse(VerifyOutputSchema, verified).passed, true);

    const approved = parse(ActionOutputSchema, cli(b, ['approve', 'plan', '--note', 'Good plan', '--json']));
    assert.equal(approved.change.stages.find((s) => s.id === 'plan')!.status, 'passed');

    // implement and test are autonomy "auto": --auto goes on until review waits for a person.
    const auto = cli(b, ['run', '--auto', '--json']);
    assert.equal(auto.code, 0, auto.stderr);
    const autoRun = parse(RunOutputSchema, auto);
    assert.equal(autoRun.stopped, 'waitingForPerson');
    assert.equal(autoRun.stageId, 'review');

    const sent = cli(b, ['send-back', 'test', '--to', 'implement', '--note', 'Handle expired tokens', '--json']);
    assert.equal(sent.code, 0, sent.stderr);
    parse(ActionOutputSchema, sent);

    const status = parse(StatusOutputSchema, cli(b, ['status', '--json']));
    assert.equal(status.currentChangeId, changeId);
    assert.ok(status.change);
    const statuses = Object.fromEntries(status.change.stages.map((s) => [s.id, s.status]));
    assert.deepEqual(Object.keys(statuses), ['plan', 'implement', 'test', 'review', 'qa']);
    assert.equal(statuses.plan, 'passed');
    assert.equal(statuses.implement, 'sentBack');
    assert.ok(status.change.stages.find((s) => s.id === 'implement')!.allowed.includes('run'));

    const list = parse(ChangeListOutputSchema, cli(b, ['change', 'list', '--json']));
    assert.equal(list.changes.length, 1);
    assert.equal(list.changes[0]!.current, true);

    const evidence = cli(b, ['evidence', 'verify', '--all', '--json']);
    assert.equal(evidence.code, 0, evidence.stderr);
    assert.ok(parse(EvidenceOutputSchema, evidence).checked > 0);

    // The record holds what happened, written by the same engine the editor uses.
    const events = listFiles(join(b.dir, '.factory', 'changes', changeId, 'events')).map((f) => JSON.parse(readFileSync(f, 'utf8')) as { type: string });
    assert.ok(events.some((e) => e.type === 'handoff.recorded'));
    assert.ok(events.some((e) => e.type === 'stage.sentBack'));
  });

  it('exit 1: a run that fails, a verdict that fails, an action the rules refuse; --json prints the error shape', () => {
    const b = box({ steps: [{ fail: 'the model refused' }] });
    start(b);
    const refused = cli(b, ['approve', 'plan', '--json']);
    assert.equal(refused.code, 1);
    assert.match(parse(ErrorOutputSchema, refused).message, /approv/i);
    const failed = cli(b, ['run', '--json']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(parse(RunOutputSchema, failed).stopped, 'failed');
    const verdict = cli(b, ['verify', 'plan']);
    assert.equal(verdict.code, 1, 'PLAN.md is missing, so plan does not pass');
  });

  it('exit 2: usage errors, and a question without a terminal names the flag instead of prompting', () => {
    const b = box({ steps: [{ text: 'plan', write: { 'PLAN.md': '# Plan\n' } }] });
    assert.equal(cli(b, ['frobnicate']).code, 2);
    assert.equal(cli(b, ['status', '--bogus']).code, 2);
    assert.equal(cli(b, ['init']).code, 0);
    const noBranch = cli(b, ['change', 'start', 'Something']);
    assert.equal(noBranch.code, 2);
    assert.match(noBranch.stderr, /--branch/);
    assert.equal(cli(b, ['change', 'start', 'Something', '--branch', 'elsewhere']).code, 2);
    assert.equal(cli(b, ['change', 'start', 'Something', '--branch', 'none']).code, 0);
    assert.equal(cli(b, ['context', 'render', '--budget', 'lots']).code, 2);
    assert.equal(cli(b, ['--set', 'factory.backends.nope.path=x', 'status']).code, 2);
    assert.equal(cli(b, ['--set', 'factory.backends.timeoutMs=soon', 'status']).code, 2);
    assert.equal(cli(b, ['run']).code, 0);
    const noNote = cli(b, ['send-back', 'plan']);
    assert.equal(noNote.code, 2, noNote.stderr);
    assert.match(noNote.stderr, /--note/);
    const noDoneNote = cli(b, ['done', 'plan']);
    assert.equal(noDoneNote.code, 2);
    assert.match(noDoneNote.stderr, /--note/);
  });

  it('exit 3: not a git repository, an untrusted folder, an invalid pipeline set aside; doctor says so', () => {
    const plain = box({ git: false });
    const init = cli(plain, ['init']);
    assert.equal(init.code, 3);
    assert.match(init.stderr, /not a git repository/);
    assert.equal(cli(plain, ['run']).code, 3);

    const b = box();
    assert.equal(cli(b, ['init']).code, 0);
    const untrusted = cli(b, ['change', 'start', 'X', '--branch', 'none', '--untrusted']);
    assert.equal(untrusted.code, 3);
    assert.equal(cli(b, ['change', 'start', 'X', '--branch', 'none'], { FACTORY_COCKPIT_UNTRUSTED: '1' }).code, 3);
    assert.equal(cli(b, ['change', 'start', 'X', '--branch', 'none']).code, 0);
    const healthy = parse(DoctorOutputSchema, cli(b, ['doctor', '--json']));
    assert.equal(healthy.healthy, true);
    assert.deepEqual(healthy.pipeline.unknownKeys, []);

    // A mistyped key is kept and ignored (a newer version may know it): doctor names it and what it probably meant.
    const pipelineFile = join(b.dir, '.factory', 'pipeline.json');
    const typo = JSON.parse(readFileSync(pipelineFile, 'utf8')) as { stages: Array<Record<string, unknown>> };
    typo.stages[1]!.verfication = [];
    writeFileSync(pipelineFile, JSON.stringify(typo));
    const typoReport = parse(DoctorOutputSchema, cli(b, ['doctor', '--json']));
    assert.deepEqual(typoReport.pipeline.unknownKeys, [{ path: 'stages[1].verfication', key: 'verfication', suggestion: 'verification' }]);
    assert.equal(typoReport.healthy, true);
    assert.match(cli(b, ['doctor']).stdout, /stages\[1\]\.verfication: "verfication" is not a key this version knows, so it is ignored \(did you mean "verification"\?\)/);
    // So is a FACTORY_BACKENDS_* variable that names no setting; `run` says so before the agent starts.
    const misspelt = { FACTORY_BACKENDS_TIMEOUTMSS: '1000' };
    assert.deepEqual(parse(DoctorOutputSchema, cli(b, ['doctor', '--json'], misspelt)).config.unknownEnvironment, [{ name: 'FACTORY_BACKENDS_TIMEOUTMSS', suggestion: 'FACTORY_BACKENDS_TIMEOUTMS' }]);
    assert.match(cli(b, ['doctor'], misspelt).stdout, /FACTORY_BACKENDS_TIMEOUTMSS is not a setting, so it is ignored \(did you mean FACTORY_BACKENDS_TIMEOUTMS\?\)/);
    assert.match(cli(b, ['run', '--untrusted'], misspelt).stderr, /warning: FACTORY_BACKENDS_TIMEOUTMSS is not a setting/);

    writeFileSync(join(b.dir, '.factory', 'pipeline.json'), JSON.stringify({ version: 1, stages: [{ id: 'Bad Id', title: '' }] }));
    const run = cli(b, ['run']);
    assert.equal(run.code, 3, run.stderr);
    // Every command that needs the change names the pipeline (exit 3), not "no change is current".
    for (const args of [['status'], ['status', '--json'], ['verify'], ['context', 'list'], ['approve', 'plan']]) {
      const result = cli(b, args);
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(`${result.stdout}${result.stderr}`, /pipeline\.json/, args.join(' '));
      assert.doesNotMatch(`${result.stdout}${result.stderr}`, /No change is current/, args.join(' '));
    }
    const doctor = cli(b, ['doctor', '--json']);
    assert.equal(doctor.code, 3);
    const report = parse(DoctorOutputSchema, doctor);
    assert.equal(report.healthy, false);
    assert.equal(report.pipeline.valid, false);
    assert.ok(report.problems.length > 0 || report.quarantined.length > 0);
  });

  it('settings: --set beats the environment, which beats the user config; files in the repository are never read', () => {
    const b = box();
    const missing = (name: string) => join(b.home, name);
    writeFileSync(b.config, JSON.stringify({ settings: { 'factory.backends.codex.path': missing('from-config'), 'factory.backends.gemini.path': missing('gemini-config') }, secrets: { OPENAI_API_KEY: 'sk-config-secret' } }));
    // A cloned repository's settings must not choose the binary.
    mkdirSync(join(b.dir, '.vscode'), { recursive: true });
    writeFileSync(join(b.dir, '.vscode', 'settings.json'), JSON.stringify({ 'factory.backends.aider.path': '/repo/chosen/aider' }));
    writeFileSync(join(b.dir, '.factory-cockpit.json'), JSON.stringify({ settings: { 'factory.backends.aider.path': '/repo/chosen/aider' } }));
    const check = (env: NodeJS.ProcessEnv, args: string[] = []) => {
      const result = cli(b, [...args, 'backends', '--json'], env);
      assert.equal(result.code, 0, result.stderr);
      return Object.fromEntries(parse(BackendsOutputSchema, result).backends.map((x) => [x.id, x]));
    };
    assert.match(check({}).codex!.problem ?? '', /from-config/);
    assert.match(check({ FACTORY_BACKENDS_CODEX_PATH: missing('from-env') }).codex!.problem ?? '', /from-env/);
    assert.match(check({ FACTORY_BACKENDS_CODEX_PATH: missing('from-env') }, ['--set', `factory.backends.codex.path=${missing('from-flag')}`]).codex!.problem ?? '', /from-flag/);
    assert.match(check({}).gemini!.problem ?? '', /gemini-config/);
    const aider = check({}).aider!;
    assert.doesNotMatch(`${aider.problem ?? ''} ${aider.path ?? ''}`, /repo\/chosen/);
    const doctor = parse(DoctorOutputSchema, cli(b, ['doctor', '--json'], { FACTORY_BACKENDS_CODEX_PATH: missing('from-env') }));
    assert.equal(doctor.config.settings['factory.backends.codex.path'], 'environment');
    assert.equal(doctor.config.settings['factory.backends.gemini.path'], 'config');
    // --config names another file.
    const other = join(b.home, 'other.json');
    writeFileSync(other, JSON.stringify({ settings: { 'factory.backends.codex.path': missing('other-config') } }));
    assert.match(check({}, ['--config', other]).codex!.problem ?? '', /other-config/);
    // An invalid config file is an environment error naming it.
    writeFileSync(b.config, '{ not json');
    const broken = cli(b, ['status']);
    assert.equal(broken.code, 3);
    assert.match(broken.stderr, /config\.json/);
  });

  it('secrets from the config reach the agent and never the record', () => {
    const b = box({ steps: [{ text: 'plan', write: { 'PLAN.md': '# Plan\n' } }] });
    writeFileSync(b.config, JSON.stringify({ secrets: { ANTHROPIC_API_KEY: 'sk-ant-very-secret-0123456789' } }));
    start(b);
    assert.equal(cli(b, ['run']).code, 0);
    for (const file of listFiles(join(b.dir, '.factory'))) assert.ok(!readFileSync(file, 'utf8').includes('sk-ant-very-secret-0123456789'), `${file} holds the secret`);
  });

  it('colour only on a terminal and never with NO_COLOR', function () {
    if (spawnSync('script', ['--version']).error) this.skip();
    const b = box();
    start(b);
    const onTerminal = (env: NodeJS.ProcessEnv) =>
      spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} status`, '/dev/null'], { cwd: b.dir, env: { ...b.env, TERM: 'xterm', ...env }, encoding: 'utf8' }).stdout;
    const ESC = '\u001b[';
    assert.ok(onTerminal({}).includes(ESC), 'a terminal gets colour');
    assert.ok(!onTerminal({ NO_COLOR: '1' }).includes(ESC), 'NO_COLOR turns it off');
    assert.ok(!cli(b, ['status']).stdout.includes(ESC), 'a pipe gets none');
  });
});
