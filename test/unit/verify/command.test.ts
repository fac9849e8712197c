// Command criteria with real processes: exit codes, captured evidence, timeouts and
// cancellation that stop the whole tree (a grandchild that ignores SIGTERM included).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCriterion } from '../../../src/verify/runner';
import { runProcess } from '../../../src/verify/process';
import { context, criterion, isAlive, makeWorkspace, NODE, readPids, removeDir, waitUntil, writeIn } from './helpers';

// Writes its own pid and a grandchild's to pids.txt, then waits forever; the grandchild ignores SIGTERM.
const TREE_SCRIPT = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'inherit' });
fs.writeFileSync(process.argv[2], process.pid + ' ' + grandchild.pid);
console.log('started tree');
setInterval(() => {}, 1000);
`;

describe('verify/command criterion', function () {
  this.timeout(30_000);
  let dir: string;
  // Outside the workspace, so writing pids does not change the tree being verified.
  let scratch: string;
  beforeEach(async () => {
    dir = await makeWorkspace();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'verify-pids-'));
    await writeIn(dir, 'tree.cjs', TREE_SCRIPT);
  });
  afterEach(async () => {
    await removeDir(dir);
    await removeDir(scratch);
  });

  it('passes on an expected exit code and keeps stdout and stderr as evidence', async () => {
    const ctx = context(dir);
    const result = await runCriterion(
      criterion({ id: 'build', kind: 'command', argv: [NODE, '-e', "console.log('out line'); console.error('err line'); process.exit(3)"], expectExitCodes: [0, 3] }),
      ctx,
    );
    assert.equal(result.outcome, 'passed', result.message);
    assert.equal(result.command?.exitCode, 3);
    assert.equal(ctx.evidence.text('build.stdout.log'), 'out line\n');
    assert.equal(ctx.evidence.text('build.stderr.log'), 'err line\n');
    assert.deepEqual(
      result.evidence.map((e) => e.name),
      ['build.stdout.log', 'build.stderr.log'],
    );
    assert.match(result.evidence[0]!.sha256, /^[0-9a-f]{64}$/);
    assert.equal(result.environment.node, process.version);
    assert.equal(result.failureFeedback, undefined);
  });

  it('fails on any other exit code and feeds the tail of the log back', async () => {
    const result = await runCriterion(criterion({ id: 'lint', kind: 'command', argv: [NODE, '-e', "console.error('src/a.ts:3 missing semicolon'); process.exit(1)"] }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.equal(result.message, 'exited with code 1, expected 0');
    assert.match(result.failureFeedback ?? '', /Verification "lint" \(command\) failed/);
    assert.match(result.failureFeedback ?? '', /src\/a\.ts:3 missing semicolon/);
  });

  it('runs in the criterion cwd with its env laid over the context env', async () => {
    await writeIn(dir, 'pkg/marker.txt', 'x');
    const ctx = context(dir, { env: { ...process.env, FROM_CONTEXT: 'ctx' } });
    const result = await runCriterion(
      criterion({
        id: 'env',
        kind: 'command',
        cwd: 'pkg',
        env: { FROM_CRITERION: 'crit' },
        argv: [NODE, '-e', "console.log(require('fs').existsSync('marker.txt'), process.env.FROM_CONTEXT, process.env.FROM_CRITERION)"],
      }),
      ctx,
    );
    assert.equal(result.outcome, 'passed');
    assert.equal(ctx.evidence.text('env.stdout.log'), 'true ctx crit\n');
    assert.equal(result.command?.cwd, 'pkg');
  });

  it('a timeout fails the criterion and kills the whole process tree', async () => {
    const pidFile = path.join(scratch, 'pids.txt');
    const started = Date.now();
    const result = await runCriterion(criterion({ id: 'slow', kind: 'command', argv: [NODE, 'tree.cjs', pidFile], timeoutMs: 1500 }), context(dir));
    assert.equal(result.outcome, 'failed');
    assert.equal(result.command?.timedOut, true);
    assert.match(result.message, /timed out after 1500 ms/);
    assert.ok(Date.now() - started < 10_000);
    const pids = await readPids(pidFile);
    assert.equal(pids.length, 2, 'the script wrote its pid and its child pid');
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 5000, 'the tree to die');
    assert.match(result.failureFeedback ?? '', /started tree/);
    assert.equal(result.treeChangedDuringRun, undefined);
  });

  it('cancellation through the AbortSignal kills the tree and reports an error, not a pass', async () => {
    const pidFile = path.join(scratch, 'pids.txt');
    const controller = new AbortController();
    const pending = runCriterion(criterion({ id: 'cancel-me', kind: 'command', argv: [NODE, 'tree.cjs', pidFile] }), context(dir, { signal: controller.signal }));
    await waitUntil(async () => (await readPids(pidFile)).length === 2, 10_000, 'the tree to start');
    controller.abort();
    const result = await pending;
    assert.equal(result.outcome, 'error');
    assert.equal(result.message, 'cancelled');
    assert.equal(result.command?.cancelled, true);
    const pids = await readPids(pidFile);
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 5000, 'the tree to die');
  });

  it('a program that does not exist is an error naming it', async () => {
    const result = await runCriterion(criterion({ id: 'missing', kind: 'command', argv: ['definitely-not-a-program-xyz'] }), context(dir));
    assert.equal(result.outcome, 'error');
    assert.match(result.message, /could not start definitely-not-a-program-xyz: .*ENOENT/);
  });

  it('a cwd outside the workspace is refused before anything runs', async () => {
    const result = await runCriterion(criterion({ id: 'escape', kind: 'command', cwd: '../', argv: [NODE, '-e', ''] }), context(dir));
    assert.equal(result.outcome, 'error');
    assert.match(result.message, /refused: cwd of criterion "escape" "\.\.\/" resolves outside the workspace/);
    assert.equal(result.command, undefined);
  });

  it('keeps only a bounded head and tail in memory while the full log goes to evidence', async () => {
    const ctx = context(dir, { limits: { captureBytes: 1024, killGraceMs: 500 } });
    // 4 MB of numbered lines.
    const script = "let s=''; for (let i = 0; i < 200000; i++) s += 'line ' + String(i).padStart(12, '0') + '\\n'; process.stdout.write(s);";
    const result = await runCriterion(criterion({ id: 'noisy', kind: 'command', argv: [NODE, '-e', script], expectExitCodes: [1] }), ctx);
    assert.equal(result.outcome, 'failed');
    const full = ctx.evidence.text('noisy.stdout.log');
    assert.equal(full.length, 200000 * 18);
    assert.ok((result.failureFeedback ?? '').length <= 4000, `feedback is bounded (${result.failureFeedback?.length})`);
    assert.match(result.failureFeedback ?? '', /line 000000199999/);

    const direct = await runProcess([NODE, '-e', script], { cwd: dir, env: process.env, captureBytes: 1024 });
    assert.equal(direct.stdout.totalBytes, 200000 * 18);
    const kept = direct.stdout.text();
    assert.ok(kept.length < 3 * 1024, `kept ${kept.length} chars`);
    assert.ok(kept.startsWith('line 000000000000\n'));
    assert.ok(kept.endsWith('line 000000199999\n'));
    assert.match(kept, /bytes omitted/);
  });
});
