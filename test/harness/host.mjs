// The offline VS Code host: code-server (VS Code's own server and workbench) driven
// by Debian's Chromium through playwright-core. Used by the integration runner, the
// demo and the activation benchmark. Facts behind each flag: ../shared/VSCODE-TESTING.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE24_VERSION = '24.21.0';
export const CHROMIUM = process.env.FACTORY_CHROMIUM ?? '/usr/bin/chromium';

export function hostPaths() {
  const cache = process.env.FACTORY_HOST_CACHE ?? join(homedir(), '.cache', 'factory-cockpit-host');
  const node24 = join(cache, `node-${NODE24_VERSION}`);
  const codeServerDir = join(cache, `code-server-${CODE_SERVER_VERSION}`);
  return {
    node: join(node24, 'bin', 'node'),
    entry: join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    complete: existsSync(join(node24, '.complete')) && existsSync(join(codeServerDir, '.complete')),
  };
}

/** A run's private temp folder; TMPDIR and XDG folders point into it so nothing leaks. */
export function makeRunDir(prefix = 'fc-') {
  // Under /tmp: unix socket paths are limited to 108 bytes.
  const dir = mkdtempSync(join(tmpdir().length < 20 ? tmpdir() : '/tmp', prefix));
  for (const sub of ['tmp', 'config', 'cache', 'data', 'user-data', 'extensions']) mkdirSync(join(dir, sub), { recursive: true });
  // Clean pictures: no welcome page, no chat, no secondary side bar.
  mkdirSync(join(dir, 'user-data', 'User'), { recursive: true });
  writeFileSync(
    join(dir, 'user-data', 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'workbench.tips.enabled': false,
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'security.workspace.trust.startupPrompt': 'never',
        'git.openRepositoryInParentFolders': 'never',
        'extensions.ignoreRecommendations': true,
        'update.mode': 'none',
        'telemetry.telemetryLevel': 'off',
      },
      null,
      2,
    ),
  );
  return dir;
}

export function isolatedEnv(runDir, extra = {}) {
  return {
    ...process.env,
    TMPDIR: join(runDir, 'tmp'),
    XDG_CONFIG_HOME: join(runDir, 'config'),
    XDG_CACHE_HOME: join(runDir, 'cache'),
    XDG_DATA_HOME: join(runDir, 'data'),
    ...extra,
  };
}

/**
 * Starts code-server detached (own process group) and resolves with its port once it
 * logs `HTTP server listening on http://127.0.0.1:PORT/`.
 */
export function startCodeServer({ runDir, workspaceTrust = false, extensionsDir, env = {}, extraArgs = [], bindAddr = '127.0.0.1:0', idleTimeoutSeconds = 120, logFile = join(runDir, 'code-server.log') }) {
  const { node, entry, complete } = hostPaths();
  if (!complete) throw new Error('The VS Code host is not installed: run `bash scripts/setup-host.sh` first.');
  const args = [
    entry,
    '--bind-addr', bindAddr,
    '--auth', 'none',
    '--user-data-dir', join(runDir, 'user-data'),
    '--extensions-dir', extensionsDir ?? join(runDir, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(idleTimeoutSeconds ? ['--idle-timeout-seconds', String(idleTimeoutSeconds)] : []),
    '--vscode-option', 'enable-smoke-test-driver',
    ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
    ...extraArgs,
  ];
  const log = createWriteStream(logFile);
  const child = spawn(node, args, { detached: true, env: isolatedEnv(runDir, env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const ready = new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`code-server did not start within 60 s (log: ${logFile})`)), 60_000);
    const onData = (chunk) => {
      buffer += chunk.toString();
      const match = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
      if (buffer.length > 1_000_000) buffer = buffer.slice(-10_000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code} before listening (log: ${logFile})`));
    });
  });
  return { child, ready };
}

/** TERM the whole process group, then KILL after 5 s. */
export async function killGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

export async function launchChromium(runDir) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    env: isolatedEnv(runDir),
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

export function workbenchUrl(port, folder, payload) {
  const base = `http://127.0.0.1:${port}/`;
  const params = new URLSearchParams({ folder });
  if (payload) params.set('payload', JSON.stringify(payload));
  return `${base}?${params.toString()}`;
}

export function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${absPath}`;
}

export function removeDir(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    /* best effort */
  }
}
