// Visual evidence (QA): optionally start the app and wait for its port, open pages in a
// headless Chromium found on the machine (through playwright-core, loaded only here and
// only when used), store one PNG per page and viewport, and check that a selector is
// visible. The app's process tree is stopped and the browser closed whatever happens.
import { access, constants } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { EvidenceRef } from '../core/events';
import type { Criterion } from '../core/pipeline';
import { resolveInside } from './paths';
import type { PageShot, PlaywrightModule, VerifyContext } from './ports';
import { startProcess, type RunningProcess } from './process';
import { commandEnv, limitsOf, withTempDir, type CheckResult } from './support';

export type ScreenshotCriterion = Extract<Criterion, { kind: 'screenshot' }>;

/** Flags that let Chromium run headless in containers and CI without reaching the network on its own. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Where a Chromium is usually installed, tried in order when no path is configured. */
export const BROWSER_CANDIDATES: Record<string, string[]> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium'],
  darwin: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'],
  win32: ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe'],
};

export class BrowserNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrowserNotFoundError';
  }
}

/** The configured browser, else the first well-known one that exists; a clear error otherwise. */
export async function findBrowser(configured: string | undefined, platform: string = process.platform): Promise<string> {
  if (configured) {
    if (await isExecutable(configured)) return configured;
    throw new BrowserNotFoundError(`the configured browser "${configured}" does not exist or is not executable`);
  }
  const candidates = BROWSER_CANDIDATES[platform] ?? [];
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate;
  throw new BrowserNotFoundError(
    `no Chromium found (looked at ${candidates.join(', ') || 'no known locations on this platform'}); install Chromium or set the browser path setting`,
  );
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once something accepts TCP connections on the port (IPv4 or IPv6 loopback). */
export async function waitForPort(port: number, timeoutMs: number, options: { signal?: AbortSignal; stopWaiting?: Promise<string> } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stopReason: string | undefined;
  void options.stopWaiting?.then((reason) => (stopReason = reason));
  for (;;) {
    if (options.signal?.aborted) throw new Error('cancelled');
    if (stopReason) throw new Error(stopReason);
    if ((await canConnect('127.0.0.1', port)) || (await canConnect('::1', port))) return;
    if (Date.now() >= deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const defaultLoadPlaywright = async (): Promise<PlaywrightModule> => import('playwright-core');

export async function checkScreenshots(criterion: ScreenshotCriterion, ctx: VerifyContext): Promise<CheckResult> {
  let base: URL;
  try {
    base = new URL(criterion.url);
  } catch {
    return { outcome: 'error', message: `"${criterion.url}" is not a URL`, evidence: [] };
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    return { outcome: 'error', message: `only http(s) URLs are opened, not ${base.protocol}`, evidence: [] };
  }
  let executablePath: string;
  try {
    executablePath = await findBrowser(ctx.browserExecutablePath);
  } catch (error) {
    return { outcome: 'error', message: (error as Error).message, evidence: [] };
  }

  return withTempDir(ctx, async (dir) => {
    const evidence: EvidenceRef[] = [];
    let app: RunningProcess | undefined;
    const appLogs = { stdout: path.join(dir, 'app.stdout.log'), stderr: path.join(dir, 'app.stderr.log') };
    const limits = limitsOf(ctx);
    try {
      if (criterion.start) {
        const cwd = await resolveInside(ctx.workspaceRoot, criterion.start.cwd ?? '.', `start cwd of criterion "${criterion.id}"`);
        app = startProcess(criterion.start.argv, {
          cwd,
          env: commandEnv(ctx, criterion.start.env),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          killGraceMs: limits.killGraceMs,
          captureBytes: limits.captureBytes,
          stdoutPath: appLogs.stdout,
          stderrPath: appLogs.stderr,
        });
        const running = app;
        const exited = running.done.then((r) =>
          r.spawnError ? `could not start ${criterion.start!.argv[0]}: ${r.spawnError}` : `the app exited (code ${r.exitCode ?? r.signal}) before listening on port ${criterion.start!.port}`,
        );
        try {
          await waitForPort(criterion.start.port, criterion.start.timeoutMs, { ...(ctx.signal ? { signal: ctx.signal } : {}), stopWaiting: exited });
        } catch (error) {
          const message = (error as Error).message;
          const cancelled = message === 'cancelled';
          const tail = running.stderr.tailText(1500) || running.stdout.tailText(1500);
          return { outcome: cancelled ? 'error' : 'failed', message: cancelled ? 'cancelled' : message, evidence, feedback: tail };
        }
      }
      return await shootPages(criterion, ctx, base, executablePath, evidence);
    } finally {
      if (app) {
        const result = await app.stop();
        if (!result.spawnError) {
          evidence.push(await ctx.evidence.putFile(appLogs.stdout, `${criterion.id}.app.stdout.log`, 'text/plain'));
          evidence.push(await ctx.evidence.putFile(appLogs.stderr, `${criterion.id}.app.stderr.log`, 'text/plain'));
        }
      }
    }
  });
}

async function shootPages(criterion: ScreenshotCriterion, ctx: VerifyContext, base: URL, executablePath: string, evidence: EvidenceRef[]): Promise<CheckResult> {
  const limits = limitsOf(ctx);
  let playwright: PlaywrightModule;
  try {
    playwright = await (ctx.loadPlaywright ?? defaultLoadPlaywright)();
  } catch (error) {
    return { outcome: 'error', message: `playwright-core could not be loaded: ${(error as Error).message}`, evidence };
  }
  let browser: Awaited<ReturnType<PlaywrightModule['chromium']['launch']>>;
  try {
    browser = await playwright.chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
  } catch (error) {
    return { outcome: 'error', message: `could not launch ${executablePath}: ${firstLine((error as Error).message)}`, evidence };
  }
  const closeOnAbort = () => void browser.close().catch(() => undefined);
  ctx.signal?.addEventListener('abort', closeOnAbort, { once: true });
  const shots: PageShot[] = [];
  try {
    for (const page of criterion.pages) {
      if (ctx.signal?.aborted) return { outcome: 'error', message: 'cancelled', evidence, screenshots: shots, browser: browser.version() };
      const url = new URL(page.path, base).toString();
      const shot: PageShot = { page: page.name, url, viewport: { ...page.viewport }, ...(page.selector ? { selector: page.selector } : {}) };
      shots.push(shot);
      const context = await browser.newContext({ viewport: page.viewport, deviceScaleFactor: 1 });
      try {
        const tab = await context.newPage();
        const response = await tab.goto(url, { waitUntil: 'load', timeout: limits.pageTimeoutMs });
        if (response) shot.status = response.status();
        const png = await tab.screenshot({ type: 'png' });
        shot.screenshot = await ctx.evidence.putBytes(png, `${criterion.id}.${page.name}.${page.viewport.width}x${page.viewport.height}.png`, 'image/png');
        evidence.push(shot.screenshot);
        if (response && !response.ok()) shot.error = `HTTP ${response.status()}`;
        if (page.selector) {
          shot.selectorVisible = await tab
            .locator(page.selector)
            .first()
            .waitFor({ state: 'visible', timeout: Math.min(5000, limits.pageTimeoutMs) })
            .then(() => true)
            .catch(() => false);
        }
      } catch (error) {
        shot.error = ctx.signal?.aborted ? 'cancelled' : firstLine((error as Error).message);
      } finally {
        await context.close().catch(() => undefined);
      }
    }
    const version = browser.version();
    if (ctx.signal?.aborted) return { outcome: 'error', message: 'cancelled', evidence, screenshots: shots, browser: version };
    const problems = shots.flatMap((shot) => [
      ...(shot.error ? [`page "${shot.page}" (${shot.url}): ${shot.error}`] : []),
      ...(shot.selectorVisible === false ? [`page "${shot.page}": selector ${shot.selector} is not visible`] : []),
    ]);
    if (problems.length > 0) {
      return { outcome: 'failed', message: problems[0]! + (problems.length > 1 ? ` (+${problems.length - 1} more)` : ''), evidence, screenshots: shots, feedback: problems.join('\n'), browser: version };
    }
    return { outcome: 'passed', message: `${shots.length} page${shots.length === 1 ? '' : 's'} captured`, evidence, screenshots: shots, browser: version };
  } finally {
    ctx.signal?.removeEventListener('abort', closeOnAbort);
    await browser.close().catch(() => undefined);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
