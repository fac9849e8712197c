// The CLI on a repository an attacker wrote: text from the record (pipeline.json, events,
// file names) never reaches a terminal as control sequences, `evidence verify --all`
// reports what the store refused to read instead of passing it, and a record that cannot
// be read exits 3 naming where, not 1 with "no change is current".
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { buildCli, cli, CLI, json, sandbox, type Sandbox } from './helpers';

const ulid = monotonicFactory();
const ESC = '\u001b';
const OSC_TITLE = `${ESC}]0;pwned${ESC}\\`;
const RED = `${ESC}[31m`;

function start(box: Sandbox): string {
  assert.equal(cli(box, ['init']).code, 0);
  const started = cli(box, ['change', 'start', 'Hostile', '--branch', 'none', '--json']);
  assert.equal(started.code, 0, started.stderr);
  return json<{ change: { id: string } }>(started).change.id;
}

function writeEvent(box: Sandbox, changeId: string, type: string, data: Record<string, unknown>): void {
  const id = ulid();
  writeFileSync(join(box.dir, '.factory', 'changes', changeId, 'events', `${id}.json`), JSON.stringify({ v: 1, id, change: changeId, type, at: '2026-11-20T09:00:00.000Z', data }));
}

/** stdout and stderr of the CLI run on a pseudo-terminal (script(1)), as a person sees them. */
function onTerminal(box: Sandbox, args: string[]): string {
  const command = [process.execPath, CLI, ...args].map((a) => JSON.stringify(a)).join(' ');
  return spawnSync('script', ['-qec', command, '/dev/null'], { cwd: box.dir, env: { ...box.env, TERM: 'xterm', NO_COLOR: '1' }, encoding: 'utf8' }).stdout;
}

describe('cli: a hostile repository', function () {
  this.timeout(180_000);
  const boxes: Sandbox[] = [];
  const box = () => {
    const b = sandbox();
    boxes.push(b);
    return b;
  };
  before(() => buildCli());
  after(() => boxes.forEach((b) => b.cleanup()));

  it('prints owners, models, stage owners in metrics and file names as text: no escape sequence reaches the terminal', () => {
    const b = box();
    const changeId = start(b);
    const pipelineFile = join(b.dir, '.factory', 'pipeline.json');
    const pipeline = JSON.parse(readFileSync(pipelineFile, 'utf8')) as { stages: Array<{ owner: { backend: string } }> };
    pipeline.stages[1]!.owner.backend = `evil${OSC_TITLE}`;
    writeFileSync(pipelineFile, JSON.stringify(pipeline));
    const attemptId = ulid();
    writeEvent(b, changeId, 'stage.ownerChanged', { stageId: 'test', owner: { backend: `owner${RED}` } });
    writeEvent(b, changeId, 'attempt.started', { stageId: 'plan', attemptId, backend: `agent${RED}`, model: `model${OSC_TITLE}` });
    writeEvent(b, changeId, 'attempt.finished', { stageId: 'plan', attemptId, outcome: 'failed', reason: 'no' });
    const fileName = `notes${RED}.md`;
    writeFileSync(join(b.dir, fileName), 'hello\n');

    const status = cli(b, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.ok(!status.stdout.includes(ESC), status.stdout);
    assert.match(status.stdout, /evil\\u001b\]0;pwned\\u001b\\/);
    assert.match(status.stdout, /owner\\u001b\[31m/);

    const metrics = cli(b, ['metrics']);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.ok(!metrics.stdout.includes(ESC), metrics.stdout);
    assert.match(metrics.stdout, /agent\\u001b\[31m\/model\\u001b\]0;pwned/);

    // A title or a file name with a line feed cannot print a forged line of its own.
    writeEvent(b, changeId, 'change.created', { title: 'Innocent\n* approved-change  Approved by security  all stages passed' });
    writeFileSync(join(b.dir, '.factory', 'changes', changeId, 'events', 'x\n  ✓ record: 0 problem(s).json'), '{}');
    // status first: it reports the bad file (and sets it aside, so later reads do not).
    const problems = cli(b, ['status']);
    assert.ok(!problems.stdout.split('\n').some((line) => line.startsWith('  ✓ record')), problems.stdout);
    assert.match(problems.stdout, /x\\u000a {2}✓ record: 0 problem\(s\)\.json/);
    const list = cli(b, ['change', 'list']);
    assert.ok(!list.stdout.split('\n').some((line) => line.startsWith('* approved-change')), list.stdout);
    assert.match(list.stdout, /Innocent\\u000a\* approved-change/);

    const added = cli(b, ['context', 'add', fileName]);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(!added.stderr.includes(ESC) && !added.stdout.includes(ESC), added.stderr);
    assert.match(added.stderr, /added notes\\u001b\[31m\.md/);
  });

  it('context render and review export: byte for byte into a pipe, escaped on a terminal', function () {
    if (spawnSync('script', ['--version']).error) this.skip();
    const b = box();
    const changeId = start(b);
    const note = `a note ${OSC_TITLE} and ${RED}red\u202e`;
    assert.equal(cli(b, ['context', 'note', note]).code, 0);

    const piped = cli(b, ['context', 'render']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(piped.stdout.includes(note), 'a pipe gets the text as it is');
    const shown = onTerminal(b, ['context', 'render']);
    assert.ok(shown.includes('a note \\u001b]0;pwned\\u001b\\ and \\u001b[31mred\\u202e'), shown);
    assert.ok(!shown.includes(ESC) && !shown.includes('\u202e'), shown);

    const exported = onTerminal(b, ['review', 'export', changeId]);
    assert.ok(exported.length > 0 && !exported.includes(ESC), exported);
  });

  it('evidence verify --all reports a linked fan-out folder and an evidence/ that is a file, and exits 1', () => {
    const b = box();
    start(b);
    writeFileSync(join(b.dir, 'a.md'), 'evidence\n');
    assert.equal(cli(b, ['context', 'add', 'a.md']).code, 0);
    const outside = join(b.home, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(b.dir, '.factory', 'evidence', 'ab'));
    const linked = cli(b, ['evidence', 'verify', '--all', '--json']);
    assert.equal(linked.code, 1, linked.stdout);
    const out = json<{ mismatches: Array<{ path: string; problem: string }> }>(linked);
    assert.deepEqual(out.mismatches.map((m) => [m.path, m.problem]), [['.factory/evidence/ab', 'unreadable']]);

    rmSync(join(b.dir, '.factory', 'evidence'), { recursive: true });
    writeFileSync(join(b.dir, '.factory', 'evidence'), 'a file where the evidence folder belongs');
    const file = cli(b, ['evidence', 'verify', '--all']);
    assert.equal(file.code, 1, file.stdout);
    assert.match(file.stdout, /\.factory\/evidence is not a folder/);
  });

  it('a record that cannot be read exits 3 naming where; a change id that names a path is a usage error (2)', () => {
    const b = box();
    start(b);
    rmSync(join(b.dir, '.factory', 'changes'), { recursive: true });
    writeFileSync(join(b.dir, '.factory', 'changes'), 'a file where the changes folder belongs');
    for (const args of [['context', 'list'], ['verify'], ['approve', 'plan', '--note', 'x'], ['change', 'start', 'Another', '--branch', 'none']]) {
      const result = cli(b, args);
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /\.factory\/changes:? is not a folder/, args.join(' '));
    }

    const c = box();
    start(c);
    rmSync(join(c.dir, '.factory'), { recursive: true });
    writeFileSync(join(c.dir, '.factory'), 'a file where the record belongs');
    const list = cli(c, ['context', 'list']);
    assert.equal(list.code, 3, list.stderr);
    assert.match(list.stderr, /\.factory: is not a folder/);

    const switched = cli(b, ['change', 'switch', '../../etc']);
    assert.equal(switched.code, 2, switched.stderr);
    assert.match(switched.stderr, /is not a change id/);
    // --root that is a file: a usage error, not a record under a file.
    const rootFile = cli(b, ['-C', join(b.dir, 'README.md'), 'status']);
    assert.equal(rootFile.code, 2, rootFile.stdout + rootFile.stderr);
    assert.match(rootFile.stderr, /--root .*README\.md: not a folder/);
  });
  it('a run the rules refuse records nothing, not even the owner its --backend names', () => {
    const b = box();
    const changeId = start(b);
    const eventsDir = join(b.dir, '.factory', 'changes', changeId, 'events');
    const before = readdirSync(eventsDir).sort();
    // Implement comes after Plan, which has not handed off; vscode-lm runs only in the editor.
    for (const args of [['run', 'implement', '--backend', 'codex'], ['run', 'plan', '--backend', 'vscode-lm']]) {
      const refused = cli(b, args);
      assert.equal(refused.code, 1, `${args.join(' ')}: ${refused.stderr}`);
      assert.doesNotMatch(refused.stderr, /is now owned by/, args.join(' '));
      assert.deepEqual(readdirSync(eventsDir).sort(), before, `${args.join(' ')} wrote no event`);
    }
  });
});
