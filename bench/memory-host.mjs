#!/usr/bin/env node
// The extension host's memory in a real VS Code (code-server + Chromium), issue #22:
// "nothing grows without bound (transcripts are streamed to evidence, not held)".
// Measured from outside, with no code path in the product for it: the extension host is
// started with an inspector port (the workbench's inspect-extensions option), and each
// reading is a full collection then process.memoryUsage() in that process
// (support/hostHeap.mjs), beside its RSS from /proc. When the inspector cannot be
// reached, the RSS alone is printed and the table says so.
//   1. the sample workspace (no generated changes): window opened, then Stages view
//      drawn and Switch Change listed — the baseline;
//   2. the same with N generated changes (the cached bench record, hard-linked in and
//      committed, as a record that came with a clone);
//   3. in that window, A attempts run by the real command (Factory: Run Next Stage), the
//      stage owned by Claude Code whose CLI is a script that prints an M MB stream-json
//      run; the plan stage fails verification (no PLAN.md), so a run retries it until
//      retry.maxAttempts, which is raised by 10 between runs: a reading every 10 attempts.
// Numbers only; nothing fails on them. --by-constructor: heap snapshots before and after
// the attempts, and what grew between them, by constructor.
//   node bench/memory-host.mjs [changes] [attempts] [megabytes] [--by-constructor]   (default 10000 50 10)
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeSampleWorkspace, repo } from '../test/harness/common.mjs';
import { hostPaths, makeRunDir, removeDir } from '../test/harness/host.mjs';
import { buildExtensionIn } from './support/buildExtension.mjs';
import { openWorkbench, typeCommand } from './support/openWorkbench.mjs';

const args = process.argv.slice(2);
const [changes = 10_000, attempts = 50, megabytes = 10] = args.filter((a) => !a.startsWith('--')).map(Number);
const byConstructor = args.includes('--by-constructor');
const BATCH = 10;
const MiB = 1024 * 1024;
const BENCH_TITLE = 'Memory bench attempts';
if (!hostPaths().complete) {
  console.error('The VS Code host is not installed: run `bash scripts/setup-host.sh`.');
  process.exit(1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The extension host of the run: a process of this run (its TMPDIR) whose command line says extensionHost. */
function extensionHostPid(runDir) {
  const marker = `TMPDIR=${join(runDir, 'tmp')}`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmdline.includes('extensionHost')) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(marker)) return Number(name);
    } catch {
      /* gone, or not ours */
    }
  }
  return undefined;
}

function rssOf(pid) {
  try {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? (kb * 1024) / MiB : undefined;
  } catch {
    return undefined;
  }
}

/** The extension host's memory: after a full collection through its inspector when it answers, else its RSS only. */
function hostMemory(window, { snapshot = false } = {}) {
  const probe = spawnSync(hostPaths().node, ['--max-old-space-size=4096', join(repo, 'bench', 'support', 'hostHeap.mjs'), String(window.inspectorPort), ...(snapshot ? ['--by-constructor'] : [])], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 1 << 26,
  });
  if (probe.status === 0) {
    const m = JSON.parse(probe.stdout.trim().split('\n').pop());
    return { via: 'inspector', pid: m.pid, heapMB: m.heapUsed / MiB, externalMB: (m.external + m.arrayBuffers) / MiB, rssMB: rssOf(m.pid) ?? m.rss / MiB, byConstructor: m.byConstructor };
  }
  if (!window.warned) {
    window.warned = true;
    console.log(`(the extension host's inspector did not answer: ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}; printing RSS only)`);
  }
  const pid = extensionHostPid(window.runDir);
  return { via: 'rss', pid, rssMB: pid ? rssOf(pid) : undefined };
}

/** The constructors whose live bytes grew most between two snapshots. */
function printGrowthByConstructor(before, after, top = 15) {
  if (!before || !after) return;
  const rows = Object.entries(after)
    .map(([name, a]) => ({ name, bytes: a.bytes - (before[name]?.bytes ?? 0), count: a.count - (before[name]?.count ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
  console.log(`\ngrew most between the snapshots (self size):\n${'constructor or kind'.padEnd(48)}${'bytes'.padStart(14)}${'count'.padStart(10)}`);
  for (const r of rows) console.log(`${r.name.slice(0, 46).padEnd(48)}${`${(r.bytes / 1024).toFixed(0)} KB`.padStart(14)}${String(r.count).padStart(10)}`);
}

const mb = (value, digits = 1) => (value === undefined ? '—' : `${value.toFixed(digits)} MB`);
const COLUMNS = [
  ['', 74],
  ['heap (after GC)', 16],
  ['external', 12],
  ['RSS', 10],
  ['pid', 9],
];
function printHeader() {
  console.log(COLUMNS.map(([title, width], i) => (i === 0 ? title.padEnd(width) : title.padStart(width))).join(''));
}
function printRow(label, m) {
  console.log([label.padEnd(COLUMNS[0][1]), mb(m.heapMB).padStart(COLUMNS[1][1]), mb(m.externalMB).padStart(COLUMNS[2][1]), mb(m.rssMB, 0).padStart(COLUMNS[3][1]), String(m.pid ?? '?').padStart(COLUMNS[4][1])].join(''));
  return m;
}

/** Runs a palette command. */
async function palette(page, command) {
  await typeCommand(page, command);
  await page.keyboard.press('Enter');
}

/**
 * Sets the plan stage's retry.maxAttempts, written as an editor would save it (whole
 * file, replaced at once). Its outputs are emptied: its verification (PLAN.md exists)
 * then fails each attempt and the stage reads failed, which Run Next Stage runs again; a
 * missing output would leave it reading "needs approval" instead, which it refuses.
 */
function setPlanAttempts(workspace, maxAttempts) {
  const file = join(workspace, '.factory', 'pipeline.json');
  const pipeline = JSON.parse(readFileSync(file, 'utf8'));
  const plan = pipeline.stages.find((s) => s.id === 'plan');
  plan.retry = { ...plan.retry, maxAttempts };
  plan.outputs = [];
  writeFileSync(`${file}.tmp`, `${JSON.stringify(pipeline, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The sample workspace (plus `extra` generated changes) in a fresh host with the extension host's inspector on. */
async function openWindow(extensionPath, extra) {
  const runDir = makeRunDir('fc-bench-memory-');
  const cleanups = [() => removeDir(runDir)];
  const workspace = join(runDir, 'workspace');
  makeSampleWorkspace(workspace);
  const agentOutput = join(runDir, 'agent-output.jsonl');
  const { changeId, inRecord } = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'support', 'memoryWorkspace.ts'), workspace, String(extra), agentOutput, String(megabytes)], { cwd: repo, encoding: 'utf8' }).trim().split('\n').pop());
  setPlanAttempts(workspace, BATCH);
  // Committed, as a record that arrived with a clone or a pull is.
  execFileSync('git', ['add', '-A'], { cwd: workspace });
  execFileSync('git', ['commit', '-qm', `${extra} generated changes`], { cwd: workspace });
  // The fake Claude Code: answers --version as the real one does; otherwise reads the prompt and prints the run.
  const agent = join(runDir, 'fake-claude.sh');
  writeFileSync(agent, `#!/bin/sh\ncase "$*" in *--version*) echo "2.1.197 (Claude Code)"; exit 0;; esac\ncat >/dev/null\nexec cat '${agentOutput}'\n`);
  chmodSync(agent, 0o755);
  const settingsFile = join(runDir, 'user-data', 'User', 'settings.json');
  writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(readFileSync(settingsFile, 'utf8')), 'factory.backends.claude-code.path': agent }, null, 2));
  const inspectorPort = await freePort();
  const page = await openWorkbench({ runDir, workspace, cleanups, extensionPath, payload: [['inspect-extensions', String(inspectorPort)]] });
  return { runDir, workspace, cleanups, page, changeId, inRecord, inspectorPort };
}

/**
 * The Stages view drawn (the current change's rows), then Switch Change's list shown
 * and closed; with generated changes, once it lists the oldest of them (change-00000).
 */
async function stagesAndSwitchList(page, extra) {
  await page.locator('.activitybar [aria-label^="Factory"]').first().click();
  await page.locator('.part.sidebar .monaco-list-row', { hasText: 'Implement' }).first().waitFor({ timeout: 300_000 });
  await palette(page, 'Factory: Switch Change');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: BENCH_TITLE }).first().waitFor({ timeout: 300_000 });
  if (extra > 0) {
    await page.keyboard.type('change-00000');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Change change-00000' }).first().waitFor({ timeout: 300_000 });
  }
  await page.keyboard.press('Escape');
}

function attemptsFinished(workspace, changeId) {
  const dir = join(workspace, '.factory', 'changes', changeId, 'events');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .filter((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')).type === 'attempt.finished').length;
}

/** A runner of the change is registered (its <change>.json in the per-user cache's runners folder). */
function runnerRegistered(runDir, changeId) {
  const root = join(runDir, 'cache', 'factory-cockpit');
  if (!existsSync(root)) return false;
  return readdirSync(root).some((repoKey) => existsSync(join(root, repoKey, 'runners', `${changeId}.json`)));
}

async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const scratch = makeRunDir('fc-bench-memory-ext-');
try {
  const extensionPath = buildExtensionIn(join(scratch, 'extension'));
  console.log(`\nThe extension host's memory: ${changes} generated changes, ${attempts} attempts of a ${megabytes} MB transcript each\n`);
  printHeader();
  const sizes = [...new Set([0, changes])];
  for (const extra of sizes) {
    const window = await openWindow(extensionPath, extra);
    try {
      const label = extra === 0 ? `sample workspace (${window.inRecord} changes)` : `${window.inRecord} changes`;
      printRow(`${label}: window opened`, hostMemory(window));
      const listStart = Date.now();
      await stagesAndSwitchList(window.page, extra);
      printRow(`${label}: Stages drawn, Switch Change listed (${((Date.now() - listStart) / 1000).toFixed(0)} s)`, hostMemory(window));
      if (extra !== changes) continue;

      const { page, workspace, changeId, runDir } = window;
      await palette(page, 'Factory: Switch Change');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: BENCH_TITLE }).first().waitFor({ timeout: 300_000 });
      await page.keyboard.type(BENCH_TITLE);
      await page.keyboard.press('Enter');
      await page.locator('.part.sidebar .monaco-list-row', { hasText: BENCH_TITLE }).first().waitFor({ timeout: 120_000 });
      const before = printRow(`${label}: bench change current, 0 attempts`, hostMemory(window, { snapshot: byConstructor }));
      const readings = [];
      const started = Date.now();
      for (let done = 0; done < attempts; ) {
        const target = Math.min(done + BATCH, attempts);
        setPlanAttempts(workspace, target);
        await palette(page, 'Factory: Run Next Stage');
        // A refused run (its reason is in a notification) starts no runner: fail fast rather than wait for attempts.
        await until('the run to start', () => runnerRegistered(runDir, changeId) || attemptsFinished(workspace, changeId) > done, 180_000);
        await until(`${target} attempts finished`, () => attemptsFinished(workspace, changeId) >= target, (target - done) * 300_000);
        await until('the runner to end', () => !runnerRegistered(runDir, changeId), 120_000);
        // The window's own refresh after the run (the cockpit re-reads the record).
        await page.locator(`.part.sidebar .monaco-list-row[aria-label*="${target} attempts"]`).first().waitFor({ timeout: 120_000 }).catch(() => undefined);
        done = target;
        readings.push(printRow(`${label}: after ${done} attempts (${((Date.now() - started) / 1000 / done).toFixed(1)} s each)`, hostMemory(window, { snapshot: byConstructor && done === attempts })));
      }
      const last = readings.at(-1);
      const growth = (key) => (last?.[key] !== undefined && before[key] !== undefined ? last[key] - before[key] : undefined);
      const perAttempt = (key) => (growth(key) === undefined ? undefined : growth(key) / attempts);
      console.log(
        `\nover ${attempts} attempts (${attempts * megabytes} MB of transcript): heap ${mb(growth('heapMB'))} (${perAttempt('heapMB') === undefined ? '—' : `${(perAttempt('heapMB') * 1024).toFixed(0)} KB`} per attempt), RSS ${mb(growth('rssMB'), 0)}`,
      );
      printGrowthByConstructor(before.byConstructor, last?.byConstructor);
      if (readings.length >= 3 && readings.every((r) => r.heapMB !== undefined)) {
        const half = readings.slice(Math.floor(readings.length / 2));
        const slope = (half.at(-1).heapMB - half[0].heapMB) / ((half.length - 1) * BATCH);
        console.log(`heap slope over the later readings: ${(slope * 1024).toFixed(0)} KB per attempt (a held transcript would be ~${(megabytes * 1024).toFixed(0)} KB per attempt or more)`);
      }
    } finally {
      for (const fn of window.cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
    }
  }
  console.log('\n(heap and external: process.memoryUsage() in the extension host after two full collections, through its inspector; RSS: /proc/<pid>/status VmRSS)');
  if (byConstructor) console.log('(--by-constructor: taking a heap snapshot raises the RSS that follows; compare heaps)');
} finally {
  removeDir(scratch);
}
