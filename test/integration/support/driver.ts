// Test-side client of the runner's driver: screenshots and checks of what a person
// sees in the workbench, which only the browser can do.
import { readFileSync } from 'node:fs';

export interface RunConfig {
  resultsFile: string;
  files: string[];
  driverUrl: string;
  workspace: string;
  /** `teamChanges`: the changes on teammates' branches (team/*) when the workspace has a team history (the demo's). */
  sample: { dir: string; mainChangeId: string; otherChangeId: string; teamChanges?: number };
  artifacts: string;
  repo: string;
}

let cached: RunConfig | undefined;
export function runConfig(): RunConfig {
  if (!cached) {
    const file = process.env.FACTORY_TEST_RUN;
    if (!file) throw new Error('FACTORY_TEST_RUN is not set: run the suite with test/harness/run-host-tests.mjs');
    cached = JSON.parse(readFileSync(file, 'utf8')) as RunConfig;
  }
  return cached;
}

export async function driver<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(runConfig().driverUrl, { method: 'POST', body: JSON.stringify({ op, ...args }) });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`driver ${op} failed: ${body.error}`);
  return body;
}

/** What a person sees and does in one browser window (1: the window running the tests). */
function windowOps(window: 1 | 2) {
  const on = window === 1 ? {} : { window };
  return {
    screenshot: (name: string, selector?: string) => driver<{ file: string }>('screenshot', { name, selector, ...on }),
    texts: async (selector: string, waitMs = 0) => (await driver<{ texts: string[] }>('texts', { selector, waitMs, ...on })).texts,
    attributes: async (selector: string, name: string) => (await driver<{ values: (string | null)[] }>('attributes', { selector, name, ...on })).values,
    waitFor: (selector: string, timeoutMs = 10_000, state: 'visible' | 'hidden' | 'attached' = 'visible') => driver('waitFor', { selector, timeoutMs, state, ...on }),
    click: (selector: string, timeoutMs?: number) => driver('click', { selector, ...(timeoutMs ? { timeoutMs } : {}), ...on }),
    /** A right click, as a person opens a context menu. */
    contextClick: (selector: string, timeoutMs?: number) => driver('click', { selector, button: 'right', ...(timeoutMs ? { timeoutMs } : {}), ...on }),
    type: (text: string) => driver('type', { text, ...on }),
    press: (key: string) => driver('press', { key, ...on }),
    frameEval: async (selector: string, property: string) => (await driver<{ values: unknown[] }>('frameEval', { selector, property, ...on })).values,
  };
}

export const browser = {
  ...windowOps(1),
  frameTexts: async (selector: string) => (await driver<{ texts: string[] }>('frameTexts', { selector })).texts,
  frameClick: (selector: string, timeoutMs = 30_000) => driver('frameClick', { selector, timeoutMs }),
  /** Dispatches dragenter/dragover/drop with a `text/uri-list` on the first match in any frame. */
  frameDrop: (selector: string, uris: string[]) => driver('frameDrop', { selector, uriList: uris.join('\r\n') }),
  dialogs: async () => (await driver<{ dialogs: string[] }>('dialogs')).dialogs,
};

/**
 * A second VS Code window on the same folder, with the extension under development but
 * not the tests: its own extension host, reading the same `.factory/`, as a teammate's
 * second window or a window next to a CLI run would.
 */
export const secondWindow = {
  open: () => driver('openSecondWindow'),
  ...windowOps(2),
};

/**
 * Types into the open quick input of a window, like a person: waits for the box,
 * focuses it, and checks the text landed there (typing before focus would send it
 * elsewhere, and a window just opened may not have focused its input yet).
 */
export async function typeInQuickInput(text: string, win: Pick<typeof browser, 'waitFor' | 'click' | 'press' | 'type' | 'frameEval'> = browser, waitMs = 20_000): Promise<void> {
  const input = '.quick-input-widget .quick-input-box input';
  await win.waitFor(input, waitMs);
  for (let attempt = 0; attempt < 3; attempt++) {
    await win.click(input);
    await win.press('ControlOrMeta+a');
    await win.type(text);
    if ((await win.frameEval(input, 'value')).includes(text)) return;
  }
  throw new Error(`could not type "${text}" into the quick input`);
}

/** Types into the open quick input and accepts it (Enter), once the text is in the box. */
export async function answerQuickInput(text: string): Promise<void> {
  await typeInQuickInput(text);
  await browser.press('Enter');
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
