// Every webview counts its Content-Security-Policy violations on its element
// (src/webview/cspWatch.ts); a test asserts there are none where a person would look.
import * as assert from 'node:assert/strict';
import { browser } from './driver';

export async function assertNoCspViolation(element: string, when: string): Promise<void> {
  const seen = (await browser.frameEval(`${element}[data-csp-violations]`, 'outerHTML')) as string[];
  assert.deepEqual(seen.map((h) => h.slice(0, 400)), [], `no Content-Security-Policy violation ${when}`);
}
