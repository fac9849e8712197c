// The host benches' common start: code-server on the workspace with the extension under
// development, Chromium on its workbench, and the Factory activity bar drawn. Cleanups
// (browser, server) are pushed for the caller's finally.
import { repo } from '../../test/harness/common.mjs';
import { killGroup, launchChromium, remoteUri, startCodeServer, workbenchUrl } from '../../test/harness/host.mjs';

/**
 * `extensionPath`: the extension to develop (the checkout by default; a bench may build its own copy).
 * `payload`: more workbench options, e.g. [['inspect-extensions', '9333']] (the extension host's inspector port).
 */
export async function openWorkbench({ runDir, workspace, cleanups, extensionPath = repo, payload = [] }) {
  const server = startCodeServer({ runDir });
  cleanups.push(() => killGroup(server.child));
  const port = await server.ready;
  const browser = await launchChromium(runDir);
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(workbenchUrl(port, workspace, [['extensionDevelopmentPath', remoteUri(port, extensionPath)], ...payload]), { waitUntil: 'domcontentloaded', timeout: 120_000 });
  await page.locator('.activitybar [aria-label^="Factory"]').first().waitFor({ timeout: 120_000 });
  return page;
}

/**
 * Types `command` into the command palette and waits until it is listed (the caller
 * presses Enter, so it can time from that key). F1 is pressed again when a webview kept
 * the key (its frame had the focus).
 */
export async function typeCommand(page, command) {
  for (let tries = 0; ; tries++) {
    await page.keyboard.press('F1');
    try {
      await page.locator('.quick-input-widget .quick-input-box input').waitFor({ timeout: 5_000 });
      break;
    } catch (error) {
      if (tries >= 4) throw error;
      await page.locator('.part.sidebar .title-label').first().click();
    }
  }
  await page.keyboard.type(command);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: command.replace(/^.*: /, '') }).first().waitFor();
}
