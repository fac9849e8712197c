#!/usr/bin/env node
// The CLI's cold start against `node -e 0` on the same machine, interleaved run by run
// so load from other processes hits all alike: `--version` (target: within 1.3×) and
// `status --json` on the sample repository (target: within 2×). Medians of N runs
// (FACTORY_BENCH_RUNS, default 30). Builds dist/cli.js first. Prints; never fails.
//
// Then where `status --json` spends its time, so the gap to the target is explained:
// the commands bundle loaded as on the first run (payload checked and decompressed, no
// code cache) and as on every later one (kept source and code cache, src/cli/embedded.ts),
// and the git processes status starts (counted through a logging `git` on PATH), each
// costing about one `git rev-parse` start. The first-run case has a cache folder of its
// own, emptied before each run: the other cases keep the caches a user's later runs
// have (the code cache written by the first `status`, not by a usage error).
//
// Last, inside one `status --json`: CPU profiles of N runs (FACTORY_BENCH_PROFILES,
// default 10), each sample put in the step its call stack is in (Node's bootstrap,
// dist/cli.js, builtin modules, the code cache, the engine's modules evaluated, the git
// process started, the command's own work, garbage collection), in ms per run.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.env.FACTORY_BENCH_RUNS ?? 30);
execFileSync(process.execPath, ['esbuild.config.mjs', '--cli'], { cwd: repo, stdio: 'inherit' });
const cli = join(repo, 'dist', 'cli.js');
const base = mkdtempSync(join(tmpdir(), 'fc-bench-cli-'));
const sample = join(base, 'sample');
execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts', 'make-sample-workspace.ts'), sample], { cwd: repo, stdio: 'ignore' });
const cache = join(base, 'cache');
const env = { PATH: process.env.PATH, HOME: join(base, 'home'), FACTORY_COCKPIT_CACHE_DIR: cache, FACTORY_COCKPIT_CONFIG: join(base, 'none.json') };
// Where the first-run case's caches go (what the first command of a build writes, src/cli/embedded.ts), emptied before each of its runs.
const firstRunCache = join(base, 'first-run-cache');

const git = (...args) => ({ command: 'git', args, cwd: sample });
const node = (...args) => ({ command: process.execPath, args, cwd: sample });
const cases = {
  'node -e 0': node('-e', '0'),
  'factory-cockpit --version': node(cli, '--version'),
  'factory-cockpit status --json': node(cli, 'status', '--json'),
  // The breakdown: commander and the program alone (an unknown option, refused before any
  // command loads), then the commands bundle loaded and its modules evaluated, then a usage
  // error (no git, no record).
  'program only (unknown option)': { ...node(cli, 'status', '--no-such-option'), exit: 2 },
  'load, first run (no caches)': { ...node(cli, 'status', '--root', join(base, 'none')), exit: 2, env: { FACTORY_COCKPIT_CACHE_DIR: firstRunCache }, before: () => rmSync(firstRunCache, { recursive: true, force: true }) },
  'load, later runs (caches)': { ...node(cli, 'status', '--root', join(base, 'none')), exit: 2 },
  'one git process': git('rev-parse', '--is-inside-work-tree'),
};
// Linux: the CPU time of waited-for children (cutime + cstime of /proc/self/stat, in clock
// ticks of 10 ms, summed over all runs): what a run costs, much less disturbed by other load than wall time.
const childCpuMs = () => {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return undefined;
  }
};
const cpu = {};
const once = ({ command, args, cwd, exit = 0, before, env: caseEnv }, name) => {
  before?.();
  const cpuBefore = childCpuMs();
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env: { ...env, ...caseEnv }, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (name && cpuBefore !== undefined) cpu[name] = (cpu[name] ?? 0) + childCpuMs() - cpuBefore;
  if (result.status !== exit) throw new Error(`${command} ${args.join(' ')} exited ${result.status}, not ${exit}`);
  return ms;
};
// Warm the file cache, the summary index and the code cache (a second status reads both, as a user's would).
for (const c of Object.values(cases)) once(c);
once(cases['factory-cockpit status --json']);
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < runs; i++) for (const [name, c] of Object.entries(cases)) times[name].push(once(c, name));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const min = (xs) => Math.min(...xs);
// The median says what a user waits; the fastest run is the least disturbed by other load on the machine.
const baseline = median(times['node -e 0']);
const baselineMin = min(times['node -e 0']);
const cpuBase = cpu['node -e 0'];
console.log(`cold start over ${runs} runs (Node ${process.version}, ${process.platform}): median (ratio) · fastest (ratio)${cpuBase ? ' · CPU time per run, mean (ratio)' : ''}`);
for (const [name, xs] of Object.entries(times)) {
  const target = name.includes('--version') ? 1.3 : name.includes('status') ? 2 : undefined;
  const ratio = median(xs) / baseline;
  const ratioMin = min(xs) / baselineMin;
  const verdict = target ? `  target ≤ ${target}×: ${ratio <= target ? 'ok' : 'OVER'} (median), ${ratioMin <= target ? 'ok' : 'OVER'} (fastest)` : '';
  const cpuRatio = cpuBase ? cpu[name] / cpuBase : undefined;
  const cpuText = cpuRatio !== undefined ? ` · ${(cpu[name] / runs).toFixed(1).padStart(6)} ms (${cpuRatio.toFixed(2)}×)` : '';
  const cpuVerdict = target && cpuRatio !== undefined ? `, ${cpuRatio <= target ? 'ok' : 'OVER'} (CPU)` : '';
  console.log(`  ${name.padEnd(32)} ${median(xs).toFixed(1).padStart(7)} ms (${ratio.toFixed(2)}×) · ${min(xs).toFixed(1).padStart(7)} ms (${ratioMin.toFixed(2)}×)${cpuText}${verdict}${cpuVerdict}`);
}

// How many git processes one status starts: a `git` first on PATH that logs and runs the real one.
const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
const shimDir = join(base, 'git-shim');
const gitLog = join(base, 'git.log');
mkdirSync(shimDir);
writeFileSync(join(shimDir, 'git'), `#!/bin/sh\necho "$*" >> '${gitLog}'\nexec '${realGit}' "$@"\n`);
chmodSync(join(shimDir, 'git'), 0o755);
spawnSync(process.execPath, [cli, 'status', '--json'], { cwd: sample, env: { ...env, PATH: `${shimDir}${delimiter}${env.PATH}` }, stdio: 'ignore' });
// No log: status started no git (the repository's layout and branch read from its files).
const gitCalls = existsSync(gitLog) ? readFileSync(gitLog, 'utf8').trim().split('\n') : [];

const m = (name) => median(times[name]);
// CPU per run (Linux), else the wall medians again.
const c = (name) => (cpuBase ? cpu[name] / runs : m(name));
const cpuUnit = cpuBase ? 'CPU ms per run' : 'wall ms';
const row = (label, wallMs, cpuMs, note = '') => console.log(`  ${label.padEnd(46)} ${wallMs.toFixed(1).padStart(7)} ms wall · ${cpuMs.toFixed(1).padStart(6)} ${cpuUnit}${note}`);
const gitEach = { wall: m('one git process'), cpu: c('one git process') };
console.log(`where status --json goes (wall: medians; ${cpuUnit}: means):`);
row('node itself (node -e 0)', baseline, c('node -e 0'));
const version = 'factory-cockpit --version';
row('+ dist/cli.js read and compiled (--version)', m(version) - baseline, c(version) - c('node -e 0'));
const program = 'program only (unknown option)';
row('+ commander, the program, a usage error', m(program) - m(version), c(program) - c(version));
row('+ the commands bundle, first run', m('load, first run (no caches)') - m(program), c('load, first run (no caches)') - c(program), '  check, decompress, compile, evaluate what status needs');
row('+ the commands bundle, later runs', m('load, later runs (caches)') - m(program), c('load, later runs (caches)') - c(program), '  (what status pays: read, deserialize, evaluate)');
row(`+ ${gitCalls.length} git processes`, gitCalls.length * gitEach.wall, gitCalls.length * gitEach.cpu, `  ${gitCalls.map((x) => x.split(' ').slice(0, 2).join(' ')).join(', ')}`);
row(
  '+ the rest (record read, fold, output)',
  Math.max(0, m('factory-cockpit status --json') - m('load, later runs (caches)') - gitCalls.length * gitEach.wall),
  Math.max(0, c('factory-cockpit status --json') - c('load, later runs (caches)') - gitCalls.length * gitEach.cpu),
);
console.log(`  → 2× leaves one node start (${c('node -e 0').toFixed(1)} ${cpuUnit}) for everything after it; the program and the commands bundle alone take ${(c('load, later runs (caches)') - c('node -e 0')).toFixed(1)}.`);

// Inside one status run. dist/cli.js is two scripts: the file itself, and the commands
// bundle it compiles from the kept source with the code cache (src/cli/embedded.ts),
// whose function wrapper it calls to evaluate the modules status imports.
const profiles = Number(process.env.FACTORY_BENCH_PROFILES ?? 10);
const profileDir = join(base, 'profiles');
for (let i = 0; i < profiles; i++) spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', profileDir, cli, 'status', '--json'], { cwd: sample, env, stdio: 'ignore' });
const STEPS = {
  node: ['Node bootstrap, script compiles', 'outside JavaScript ((program) samples): starting Node, compiling dist/cli.js'],
  program: ['dist/cli.js: commander, the program, the parse', ''],
  builtins: ['Node builtin modules loaded', 'crypto, fs/promises, stream… (child_process only when git runs): requireBuiltin'],
  codeCache: ['commands bundle: kept source and code cache', 'read, then deserialized by new vm.Script'],
  evaluate: ['commands bundle: modules evaluated', "the engine's modules and zod's (schemas are built on first use: core/lazySchema.ts)"],
  spawn: ['git: processes started', 'child_process.spawn (a fork of this process); git itself is a process of its own'],
  command: ['status: record read, fold, output', 'pipeline.json (validated once per build: store/keptPipeline.ts), the index, events and their checks (generated from their zod schemas: core/eventChecks.generated.ts), the fold, JSON'],
  gc: ['garbage collection', ''],
  idle: ['idle', 'waiting for git and the disk'],
};
const stepMs = Object.fromEntries(Object.keys(STEPS).map((step) => [step, 0]));
const files = readdirSync(profileDir);
for (const file of files) {
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n);
  // The bundle's wrapper: a function at line 0 of a cli.js script, called from the other one.
  const wrapper = profile.nodes.find((n) => n.callFrame.url.endsWith('cli.js') && n.callFrame.lineNumber === 0 && n.callFrame.columnNumber > 0 && parentOf.get(n.id)?.callFrame.scriptId !== n.callFrame.scriptId);
  const bundleScript = wrapper?.callFrame.scriptId;
  // The first step that the sample's call stack is in, in this order.
  const stepOf = (leaf) => {
    const name = leaf.callFrame.functionName;
    if (name === '(garbage collector)') return 'gc';
    if (name === '(idle)') return 'idle';
    if (name === '(program)' || name === '(root)') return 'node';
    const frames = [];
    for (let n = leaf; n; n = parentOf.get(n.id)) frames.push(n);
    const has = (test) => frames.some((n) => test(n.callFrame));
    if (has((f) => f.url === 'node:child_process' && f.functionName === 'spawn')) return 'spawn';
    if (has((f) => f.functionName === 'requireBuiltin' || f.functionName === 'compileForPublicLoader')) return 'builtins';
    if (has((f) => f.url === 'node:vm' && f.functionName === 'Script')) return 'codeCache';
    if (wrapper && frames.includes(wrapper)) return 'evaluate';
    if (has((f) => f.scriptId === bundleScript)) return 'command';
    // What dist/cli.js reads for the bundle: the kept source and the code cache.
    if (has((f) => f.functionName === 'readFileSync') && has((f) => f.url.endsWith('cli.js'))) return 'codeCache';
    if (has((f) => f.url.endsWith('cli.js'))) return 'program';
    return 'node';
  };
  for (let i = 0; i < profile.samples.length; i++) stepMs[stepOf(byId.get(profile.samples[i]))] += (profile.timeDeltas[i + 1] ?? 0) / 1000 / files.length;
}
// Profiling slows a run: each step's share of the busy samples, applied to what an
// unprofiled status costs beyond its git processes, says what the step costs.
const busyMs = Object.values(stepMs).reduce((a, b) => a + b, 0) - stepMs.idle;
const unprofiled = c('factory-cockpit status --json') - gitCalls.length * gitEach.cpu;
console.log(`inside status --json: CPU profiles of ${files.length} runs; ms per run profiled (${busyMs.toFixed(1)} busy), share of the busy time, and that share of an unprofiled run's ${unprofiled.toFixed(1)} ${cpuUnit} (git's own excluded)`);
for (const [step, [label, note]] of Object.entries(STEPS)) {
  const share = step === 'idle' ? undefined : stepMs[step] / busyMs;
  const shareText = share === undefined ? '' : `${(100 * share).toFixed(0).padStart(3)} % · ${(share * unprofiled).toFixed(1).padStart(5)} ms`;
  console.log(`  ${label.padEnd(46)} ${stepMs[step].toFixed(1).padStart(7)} ms · ${shareText.padEnd(17)}${note ? `  ${note}` : ''}`);
}
rmSync(base, { recursive: true, force: true });
