// What both integration runners share: where things are, the suites, the sample
// workspace, and the driver a test calls for what only the browser can do.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const testsDir = join(repo, 'out', 'test', 'integration');
export const artifacts = join(repo, 'test-artifacts');

/**
 * One suite per test file: each gets a fresh sample workspace and its own host, so no
 * file depends on what another left behind. Files named trust-*.test.js run with
 * Workspace Trust on (the workspace starts untrusted); the others with it disabled.
 */
export function suitesFor(onlyFiles = []) {
  const allFiles = readdirSync(testsDir).filter((f) => f.endsWith('.test.js')).sort();
  const pick = (f) => onlyFiles.length === 0 || onlyFiles.some((o) => f.includes(o));
  // trust-*: Workspace Trust on (the folder starts untrusted); fresh-*: a repository with no record yet.
  // demo*: the demo's workspace (stages owned by the offline demo agent, as `npm run demo` opens it).
  return allFiles.filter(pick).map((f) => ({ name: f.replace(/\.test\.js$/, ''), trust: f.startsWith('trust-'), fresh: f.startsWith('fresh-'), demo: f.startsWith('demo'), files: [f] }));
}

/** A real git repository with a record written by the product's own store (or, fresh, without one). */
export function makeSampleWorkspace(dir, { fresh = false, demo = false } = {}) {
  const args = ['--import', 'tsx', join(repo, 'scripts', 'make-sample-workspace.ts'), dir, ...(fresh ? ['--fresh'] : demo ? ['--demo'] : [])];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: repo, encoding: 'utf8' }));
}

export function startDriver(state) {
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const reply = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    try {
      reply(200, await handleDriverOp(state, JSON.parse(body || '{}')));
    } catch (error) {
      reply(500, { error: String(error?.message ?? error) });
    }
  });
  return new Promise((resolveListen) => server.listen(0, '127.0.0.1', () => resolveListen(server)));
}

async function handleDriverOp(state, op) {
  if (op.window === 2 && !state.second) throw new Error('no second window: call openSecondWindow first');
  const page = op.window === 2 ? state.second : state.page;
  switch (op.op) {
    case 'openSecondWindow': {
      // The same folder and extension under development, without the test module.
      const url = new URL(state.page.url());
      const payload = JSON.parse(url.searchParams.get('payload') ?? '[]').filter(([key]) => key !== 'extensionTestsPath');
      url.searchParams.set('payload', JSON.stringify(payload));
      state.second = await state.page.context().browser().newPage({ viewport: { width: 1400, height: 900 } });
      await state.second.goto(url.toString(), { waitUntil: 'domcontentloaded', timeout: 120_000 });
      await state.second.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
      return {};
    }
    case 'result': {
      const t = op.test;
      const mark = t.state === 'passed' ? '✓' : t.state === 'failed' ? '✗' : '-';
      console.log(`  ${mark} [${state.suite}] ${t.fullTitle}${t.state === 'failed' ? `\n      ${String(t.error).split('\n').join('\n      ')}` : ''}`);
      if (t.state === 'failed' && page) {
        // What the workbench showed when the test failed, kept as an artifact.
        const file = join(artifacts, 'failures', `${state.suite}-${t.fullTitle.replace(/[^a-zA-Z0-9._-]+/g, '_').slice(0, 120)}.png`);
        mkdirSync(dirname(file), { recursive: true });
        await page.screenshot({ path: file }).catch(() => undefined);
      }
      return {};
    }
    case 'screenshot': {
      const file = join(artifacts, 'screenshots', `${op.name.replace(/[^a-zA-Z0-9._-]/g, '_')}.png`);
      mkdirSync(dirname(file), { recursive: true });
      if (op.selector) await page.locator(op.selector).first().screenshot({ path: file });
      else await page.screenshot({ path: file });
      return { file };
    }
    case 'texts': {
      const locator = page.locator(op.selector);
      if (op.waitMs) await locator.first().waitFor({ timeout: op.waitMs }).catch(() => undefined);
      return { texts: await locator.allInnerTexts() };
    }
    case 'attributes': {
      return { values: await page.locator(op.selector).evaluateAll((els, name) => els.map((e) => e.getAttribute(name)), op.name) };
    }
    case 'waitFor':
      await page.locator(op.selector).first().waitFor({ state: op.state ?? 'visible', timeout: op.timeoutMs ?? 10_000 });
      return {};
    case 'click':
      await page.locator(op.selector).first().click({ timeout: op.timeoutMs ?? 10_000, ...(op.button ? { button: op.button } : {}) });
      return {};
    case 'type':
      await page.keyboard.type(op.text, { delay: 5 });
      return {};
    case 'press':
      await page.keyboard.press(op.key);
      return {};
    case 'frameTexts': {
      // Webviews live in nested iframes; search every frame for the selector.
      const texts = [];
      for (const frame of page.frames()) {
        try {
          texts.push(...(await frame.locator(op.selector).allInnerTexts()));
        } catch {
          /* detached frame */
        }
      }
      return { texts };
    }
    case 'frameEval': {
      // Reads (never writes) a property of matching elements in any frame.
      const values = [];
      for (const frame of page.frames()) {
        try {
          values.push(...(await frame.locator(op.selector).evaluateAll((els, prop) => els.map((e) => e[prop]), op.property)));
        } catch {
          /* detached frame */
        }
      }
      return { values };
    }
    case 'frameClick': {
      // Clicks the first match in whichever frame has it (webviews live in nested iframes).
      for (const frame of page.frames()) {
        try {
          const locator = frame.locator(op.selector).first();
          if ((await locator.count()) === 0) continue;
          await locator.click({ timeout: op.timeoutMs ?? 10_000 });
          return { clicked: true };
        } catch (error) {
          if (frame.isDetached()) continue;
          throw error;
        }
      }
      throw new Error(`no frame has ${op.selector}`);
    }
    case 'frameDrop': {
      // Drops a text/uri-list on the first match, as a drag from a file manager would.
      for (const frame of page.frames()) {
        try {
          const locator = frame.locator(op.selector).first();
          if ((await locator.count()) === 0) continue;
          const dataTransfer = await frame.evaluateHandle((list) => {
            const data = new DataTransfer();
            data.setData('text/uri-list', list);
            return data;
          }, op.uriList);
          for (const type of ['dragenter', 'dragover', 'drop']) await locator.dispatchEvent(type, { dataTransfer });
          return { dropped: true };
        } catch (error) {
          if (frame.isDetached()) continue;
          throw error;
        }
      }
      throw new Error(`no frame has ${op.selector}`);
    }
    case 'dialogs':
      return { dialogs: state.dialogs };
    case 'reloadWindow': {
      // A window reload that really ends the old extension host: a reloaded page can keep
      // it alive for a while, which would let a test pass for the wrong reason. Answered
      // first: the caller is that extension host.
      setTimeout(async () => {
        const reloading = page.reload({ waitUntil: 'domcontentloaded', timeout: 120_000 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
        if (op.killPid) {
          try {
            process.kill(op.killPid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        await reloading;
      }, 100);
      return {};
    }
    default:
      throw new Error(`unknown driver op ${op.op}`);
  }
}

