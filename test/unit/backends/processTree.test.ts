// The process groups an agent runs in: each spawned group is tracked with its leader's
// start time and gets a watchdog that ends it when this process dies; a group recorded
// by another process is killed only while its leader pid still names the same process.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { groupAlive, killRecordedGroup, onSpawnedGroupsChange, pidAlive, processStartTime, spawnInGroup, spawnedGroups, type SpawnedGroup } from '../../../src/backends/processTree';
import { waitFor } from '../cli/helpers';

const posix = process.platform !== 'win32';

describe('backends: process groups (processTree)', function () {
  this.timeout(30_000);
  before(function () {
    if (!posix) this.skip();
  });

  it('tracks a spawned group with its start time and watchdog until the whole group has ended', async () => {
    const seen: SpawnedGroup[][] = [];
    const unsubscribe = onSpawnedGroupsChange((groups) => seen.push(groups));
    try {
      // The leader exits at once; the child it leaves in the group lives on for a moment.
      const child = spawnInGroup('/bin/sh', ['-c', 'sleep 1 & exit 0'], { cwd: process.cwd(), env: process.env, stdio: 'ignore' });
      const pgid = child.pid!;
      // Groups other tests left behind may end meanwhile: find this one in what was announced.
      const tracked = seen.flat().find((g) => g.pgid === pgid);
      assert.equal(tracked!.pgid, pgid);
      if (process.platform === 'linux') assert.ok(tracked!.processStart, 'the leader start time, to tell a reused pid');
      assert.ok(tracked!.watchdog && pidAlive(tracked!.watchdog), 'a watchdog waits for this process to die');
      await new Promise((resolve) => child.once('exit', resolve));
      assert.ok(spawnedGroups().some((g) => g.pgid === pgid), 'still tracked while the rest of its group runs');
      await waitFor('the group to end and be forgotten', () => !spawnedGroups().some((g) => g.pgid === pgid));
      assert.ok(!groupAlive(pgid));
      await waitFor('the watchdog to be told and leave', () => !pidAlive(tracked!.watchdog!));
    } finally {
      unsubscribe();
    }
  });

  it('kills a recorded group only while its leader pid is the process that was recorded', async function () {
    if (process.platform !== 'linux') this.skip();
    const leader = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const pgid = leader.pid!;
      assert.equal(killRecordedGroup({ pgid, processStart: '1' }), false, 'another start time: a reused pid, left alone');
      assert.ok(pidAlive(pgid));
      assert.equal(killRecordedGroup({ pgid, processStart: processStartTime(pgid)! }), true);
      await waitFor('the recorded group to die', () => !pidAlive(pgid));
    } finally {
      leader.kill('SIGKILL');
    }
  });
});
