// The detached runner (`run --detach`): it owns the attempt after its starter exits,
// Stop kills the agent's whole process tree, a runner killed with `kill -9` leaves an
// attempt the next read records as interrupted, a second start is refused naming the
// running attempt, and a pid reused by another process is not taken for the runner.
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { groupAlive, pidAlive as running, type SpawnedGroup } from '../../../src/backends/processTree';
import { RunnerRegistry, processStartTime } from '../../../src/engine/detachedRun';
import { RunOutputSchema, StatusOutputSchema } from '../../../src/cli/schemas';
import { buildCli, cli, json, sandbox, waitFor, type Sandbox } from './helpers';

const AGENT = join(__dirname, 'fixtures', 'slow-agent.mjs');

interface Box extends Sandbox {
  pids: string;
  go: string;
  output: string;
}

function runnerBox(extraEnv: NodeJS.ProcessEnv = {}): Box {
  const b = sandbox();
  const pids = join(b.home, 'agent-pids.json');
  const go = join(b.home, 'go');
  const output = join(b.dir, 'built.txt');
  Object.assign(b.env, {
    FACTORY_BACKENDS_COMMAND_ARGV: JSON.stringify([process.execPath, AGENT]),
    SLOW_AGENT_PIDS: pids,
    SLOW_AGENT_GO: go,
    SLOW_AGENT_OUTPUT: output,
    ...extraEnv,
  });
  mkdirSync(join(b.dir, '.factory'), { recursive: true });
  writeFileSync(
    join(b.dir, '.factory', 'pipeline.json'),
    JSON.stringify({
      version: 1,
      stages: [
        { id: 'build', title: 'Build', owner: { backend: 'command' }, autonomy: 'approve', retry: { maxAttempts: 1 } },
        { id: 'ship', title: 'Ship', owner: { backend: 'human', person: 'lead' } },
      ],
    }),
  );
  assert.equal(cli(b, ['change', 'start', 'Build it', '--branch', 'none']).code, 0);
  return { ...b, pids, go, output };
}

const status = (b: Sandbox) => StatusOutputSchema.parse(json(cli(b, ['status', '--json'])));
const buildStage = (b: Sandbox) => status(b).change!.stages.find((s) => s.id === 'build')!;
const agentPids = (b: Box) => waitFor('the agent to start', () => {
  try {
    return JSON.parse(readFileSync(b.pids, 'utf8')) as { pid: number; grandchild: number };
  } catch {
    return undefined;
  }
});

/** The agent groups the change's runner recorded, once it has recorded one. */
const recordedAgents = (b: Sandbox, changeId: string) =>
  waitFor<SpawnedGroup[]>('the runner to record its agent', () => {
    const agents = new RunnerRegistry(b.dir, b.cache).readSync(changeId)?.agents;
    return agents && agents.length > 0 ? agents : undefined;
  });

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

describe('cli: the detached runner (run --detach)', function () {
  this.timeout(180_000);
  const boxes: Box[] = [];
  const strays: number[] = [];
  const box = (env?: NodeJS.ProcessEnv) => {
    const b = runnerBox(env);
    boxes.push(b);
    return b;
  };
  before(() => buildCli());
  after(() => {
    // Whatever a failed test left running: the runners and agents it started.
    for (const b of boxes) {
      for (const { record } of new RunnerRegistry(b.dir, b.cache).list()) killGroup(record.pid);
      try {
        const pids = JSON.parse(readFileSync(b.pids, 'utf8')) as { pid: number; grandchild: number };
        killGroup(pids.pid);
        killGroup(pids.grandchild);
      } catch {
        /* no agent */
      }
      b.cleanup();
    }
    strays.forEach(killGroup);
  });

  it('owns the attempt after its starter exits, streams it to its events file, and ends by itself', async () => {
    const b = box();
    const started = cli(b, ['run', '--detach', '--json']);
    assert.equal(started.code, 0, started.stderr);
    const out = RunOutputSchema.parse(json(started));
    assert.equal(out.stopped, 'detached');
    const runnerPid = out.runner!.pid;
    strays.push(runnerPid);
    assert.ok(running(runnerPid), 'the runner outlives the command that started it');
    const { pid } = await agentPids(b);
    assert.ok(running(pid));

    const registry = new RunnerRegistry(b.dir, b.cache);
    const record = registry.live(out.changeId);
    assert.ok(record, 'the runner is registered for the change');
    assert.equal(record.pid, runnerPid);
    const during = status(b);
    assert.equal(during.change!.stages[0]!.status, 'running');
    assert.ok(during.runners.some((r) => r.pid === runnerPid && r.alive));
    await waitFor('live transcript lines', () => readFileSync(record.events, 'utf8').includes('working on it'));

    writeFileSync(b.go, '');
    await waitFor('the runner to end', () => !running(runnerPid));
    const build = buildStage(b);
    assert.equal(build.attempts[0]!.outcome, 'succeeded');
    assert.equal(build.status, 'needsApproval');
    assert.ok(build.attempts[0]!.transcript, 'the transcript became evidence when the attempt ended');
    // The record names the runner as the process that ran the attempt.
    const eventsDir = join(b.dir, '.factory', 'changes', out.changeId, 'events');
    const startedEvent = readdirSync(eventsDir)
      .map((f) => JSON.parse(readFileSync(join(eventsDir, f), 'utf8')) as { type: string; data: { runner?: { pid: number } } })
      .find((e) => e.type === 'attempt.started')!;
    assert.equal(startedEvent.data.runner?.pid, runnerPid);
    assert.equal(registry.live(out.changeId), undefined, 'it released the change');
    assert.equal(registry.lastEnd(out.changeId)?.report?.stopped, 'approval');
    assert.match(readFileSync(registry.logFile, 'utf8'), /run ended: approval/);
  });

  it("Stop kills the agent's whole process tree and records the attempt as cancelled", async () => {
    const b = box({ SLOW_AGENT_HANG: '1' });
    const out = RunOutputSchema.parse(json(cli(b, ['run', '--detach', '--json'])));
    strays.push(out.runner!.pid);
    const { pid, grandchild } = await agentPids(b);
    const stopped = cli(b, ['stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitFor('the agent tree to die', () => !running(pid) && !running(grandchild), 20_000);
    assert.ok(!running(out.runner!.pid), 'the runner ended');
    const attempt = buildStage(b).attempts[0]!;
    assert.equal(attempt.outcome, 'cancelled');
    assert.equal(cli(b, ['stop']).code, 1, 'nothing runs any more');
  });

  it('a second start is refused with the running attempt named', async () => {
    const b = box({ SLOW_AGENT_HANG: '1' });
    const out = RunOutputSchema.parse(json(cli(b, ['run', '--detach', '--json'])));
    strays.push(out.runner!.pid);
    await agentPids(b);
    const second = cli(b, ['run', '--detach']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(out.runner!.attemptId!));
    assert.match(second.stderr, new RegExp(`pid ${out.runner!.pid}`));
    const foreground = cli(b, ['run', 'build']);
    assert.equal(foreground.code, 1);
    assert.match(foreground.stderr, /already runs this change/);
    assert.equal(cli(b, ['stop']).code, 0);
  });

  it("a runner killed with kill -9 takes its agent's process group along, and the next read records the attempt as interrupted", async () => {
    const b = box({ SLOW_AGENT_HANG: '1' });
    const out = RunOutputSchema.parse(json(cli(b, ['run', '--detach', '--json'])));
    const runnerPid = out.runner!.pid;
    const { pid, grandchild } = await agentPids(b);
    strays.push(pid, grandchild);
    const [group] = await recordedAgents(b, out.changeId);
    assert.equal(group!.pgid, pid, 'the runner recorded the agent it spawned as a process group');
    process.kill(runnerPid, 'SIGKILL');
    // Nothing reads the record here: the agent's watchdog sees its runner gone.
    await waitFor("the agent's group to die with its runner", () => !running(pid) && !running(grandchild), 20_000);
    const after = status(b);
    assert.deepEqual(
      after.interrupted.map((i) => i.attemptId),
      [out.runner!.attemptId],
    );
    const attempt = after.change!.stages[0]!.attempts[0]!;
    assert.equal(attempt.outcome, 'interrupted');
    assert.ok(after.runners.every((r) => !r.alive), 'its record is shown as gone');
    // The change can run again: the dead runner's claim is taken over.
    assert.ok(after.change!.stages[0]!.allowed.includes('retry'));
  });

  it("the read that finds a runner dead ends the agent's process group it recorded (its watchdog gone too)", async () => {
    const b = box({ SLOW_AGENT_HANG: '1' });
    const out = RunOutputSchema.parse(json(cli(b, ['run', '--detach', '--json'])));
    const runnerPid = out.runner!.pid;
    const { pid, grandchild } = await agentPids(b);
    strays.push(pid, grandchild);
    const [group] = await recordedAgents(b, out.changeId);
    assert.ok(group!.watchdog, 'the agent has a watchdog');
    process.kill(group!.watchdog!, 'SIGKILL');
    await waitFor('the watchdog to die', () => !running(group!.watchdog!));
    process.kill(runnerPid, 'SIGKILL');
    await waitFor('the runner to die', () => !running(runnerPid));
    assert.ok(running(pid) && running(grandchild), 'with neither runner nor watchdog, the agent runs on as an orphan');

    const after = status(b);
    assert.equal(after.change!.stages[0]!.attempts[0]!.outcome, 'interrupted');
    await waitFor("the orphaned agent's group to be gone", () => !running(pid) && !running(grandchild), 20_000);
    assert.match(readFileSync(new RunnerRegistry(b.dir, b.cache).logFile, 'utf8'), new RegExp(`runner ${runnerPid} is gone; ended its agents' process groups ${pid}`));
  });

  it("Stop's escalation kills the agent's whole group too when the runner does not end within the grace", async () => {
    // The agent and its child ignore SIGTERM, and the runner would wait ten minutes before
    // KILLing them: only Stop's escalation after its (short, injected) grace can end them.
    const b = box({ SLOW_AGENT_HANG: '1', SLOW_AGENT_TRAP_TERM: '1', FACTORY_BACKENDS_KILLGRACEMS: '600000' });
    const out = RunOutputSchema.parse(json(cli(b, ['run', '--detach', '--json'])));
    const runnerPid = out.runner!.pid;
    strays.push(runnerPid);
    const { pid, grandchild } = await agentPids(b);
    strays.push(pid, grandchild);
    const [group] = await recordedAgents(b, out.changeId);
    // Without its watchdog, nothing but Stop ends the group once the runner is killed.
    process.kill(group!.watchdog!, 'SIGKILL');

    const registry = new RunnerRegistry(b.dir, b.cache);
    const stopped = await registry.stop(out.changeId, { graceMs: 1_500 });
    assert.equal(stopped?.pid, runnerPid);
    assert.ok(!running(runnerPid), 'the runner was killed');
    assert.ok(!groupAlive(pid), "the agent's whole group is gone when Stop returns");
    assert.ok(!running(grandchild));
    const events = readFileSync(registry.eventsFileOf(out.changeId), 'utf8');
    assert.match(events, /ignoring SIGTERM/, 'the agent was asked with SIGTERM first, and ignored it');
    assert.match(readFileSync(registry.logFile, 'utf8'), /did not stop within 1500 ms; killing it and its agents/);
    assert.equal(buildStage(b).attempts[0]!.outcome, 'interrupted');
  });

  it('a pid reused by another process is not taken for the runner (process start time)', async function () {
    if (process.platform !== 'linux') this.skip();
    const b = sandbox();
    try {
      const registry = new RunnerRegistry(b.dir, b.cache);
      mkdirSync(registry.dir, { recursive: true });
      const me = process.pid;
      const now = new Date().toISOString();
      const record = { version: 1, changeId: 'c-1', pid: me, processStart: '1', hostname: os.hostname(), startedAt: now, heartbeatAt: now, startedBy: 'cli', log: registry.logFile, events: registry.eventsFileOf('c-1') };
      writeFileSync(registry.fileOf('c-1'), JSON.stringify(record));
      assert.notEqual(processStartTime(me), '1');
      assert.equal(registry.isAlive(me), false, 'same pid, other start time: not the runner');
      writeFileSync(registry.fileOf('c-1'), JSON.stringify({ ...record, processStart: processStartTime(me) }));
      assert.equal(registry.isAlive(me), true);
      assert.equal(registry.live('c-1')?.pid, me);
    } finally {
      b.cleanup();
    }
  });
});
