// The Context view in a real VS Code: items added through the real commands, the
// editor and the panel itself (buttons, keyboard, drop) show up as new pack versions
// in the webview; edits on disk mark items stale; refresh makes a new version;
// hostile text renders as text; the view looks right in dark and light themes and
// keeps its state when hidden. Checked through the record and the webview's DOM.
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { EMPTY_PACK_VERSION } from '../../src/core/contextPack';
import { ContextPackStore } from '../../src/store/contextPackStore';
import { EvidenceContentStore } from '../../src/store/contextContent';
import { FileEvidenceStore } from '../../src/store/evidence';
import { FileRecordStore } from '../../src/store/recordStore';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';
import { assertNoCspViolation } from './support/csp';

const PANEL = 'factory-context-panel';
const HOSTILE = '<img src=x onerror=alert(1)> and <script>alert(2)</script>';

describe('Context panel', function () {
  // Each test drives several round trips through the webview; the host shares 2 cores with other runs.
  this.timeout(180_000);
  const config = runConfig();
  const { mainChangeId } = config.sample;
  const authPath = join(config.workspace, 'src', 'auth.js');
  const packs = new ContextPackStore({ records: new FileRecordStore(config.workspace), content: new EvidenceContentStore(new FileEvidenceStore(config.workspace)) });
  const pack = () => packs.load(mainChangeId);

  /** The pack version the webview shows. */
  async function shownVersion(): Promise<string | undefined> {
    return (await browser.frameEval(`${PANEL} [data-test="version"]`, 'title'))[0] as string | undefined;
  }

  async function waitForShownVersion(version: string, what: string): Promise<void> {
    await eventually(async () => (await shownVersion()) === version, `${what}: the panel to show version ${version.slice(0, 12)} (it shows ${(await shownVersion())?.slice(0, 12)})`);
  }

  async function itemIdByTitle(kind: string, title: string): Promise<string> {
    const item = (await pack()).items.find((i) => i.kind === kind && i.title === title);
    assert.ok(item, `a ${kind} item "${title}" in the record`);
    return item.id;
  }

  const item = (id: string) => `${PANEL} li[data-item="${id}"]`;

  before(async () => {
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.current?.id === mainChangeId, 'the sample change to be current');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('shows the current change and its (empty) pack in the Context view under Stages, with the budget it measures against', async () => {
    await vscode.commands.executeCommand('factory.showContext');
    const headers = await eventually(async () => {
      const texts = await browser.texts('.part.sidebar .pane-header');
      return texts.some((t) => /context/i.test(t)) ? texts : undefined;
    }, 'the Context view header');
    const stages = headers.findIndex((t) => /stages/i.test(t));
    assert.ok(stages >= 0 && stages < headers.findIndex((t) => /context/i.test(t)), `Context comes after Stages: ${JSON.stringify(headers)}`);
    await eventually(async () => (await browser.frameTexts(`${PANEL} [data-test="change"]`)).includes('Add password reset'), 'the change title in the panel');
    assert.equal(await shownVersion(), EMPTY_PACK_VERSION);
    const gauge = (await browser.frameTexts(`${PANEL} [data-test="gauge"]`)).join('\n');
    assert.match(gauge, /~0\s+\/ 200,000 tokens · 0%/);
    assert.match(gauge, /Budget: Implement · default for claude-code/);
    // The gauge's width is set without a style attribute, and zod never probes `new Function`.
    await eventually(async () => ((await browser.frameEval(`${PANEL} .gauge-fill`, 'outerHTML')) as string[]).some((h) => /style="width: 0%;?"/.test(h)), 'the gauge drawn with its width');
    await assertNoCspViolation(PANEL, 'while the panel draws');
  });

  it('adds a file and a selection through the real commands; the panel shows each new version', async () => {
    const fileVersion = await vscode.commands.executeCommand<string>('factory.addFileToContext', vscode.Uri.file(authPath));
    assert.ok(fileVersion && fileVersion !== EMPTY_PACK_VERSION, 'the command returns the new version');
    await waitForShownVersion(fileVersion, 'after adding the file');
    assert.ok((await browser.frameTexts(`${PANEL} section[data-kind="file"] [data-action="open"]`)).includes('src/auth.js'));

    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(authPath));
    editor.selection = new vscode.Selection(0, 0, 2, 0); // lines 1–2, as a line selection
    const selectionVersion = await vscode.commands.executeCommand<string>('factory.addSelectionToContext');
    assert.ok(selectionVersion && selectionVersion !== fileVersion);
    await waitForShownVersion(selectionVersion, 'after adding the selection');

    // The editor menu's "Add to Factory Context" takes a selection within a line, with characters.
    editor.selection = new vscode.Selection(1, 2, 1, 8);
    const partVersion = await vscode.commands.executeCommand<string>('factory.addToContext', editor.document.uri);
    assert.ok(partVersion && partVersion !== selectionVersion);
    await waitForShownVersion(partVersion, 'after adding part of a line');
    assert.deepEqual(await browser.frameTexts(`${PANEL} section[data-kind="selection"] [data-action="open"]`), ['src/auth.js#L1-L2', 'src/auth.js#L2:2-L2:8']);

    const items = (await pack()).items;
    assert.deepEqual(items.map((i) => [i.kind, i.title, i.source.origin]), [
      ['file', 'src/auth.js', 'user'],
      ['selection', 'src/auth.js#L1-L2', 'editor'],
      ['selection', 'src/auth.js#L2:2-L2:8', 'editor'],
    ]);
    const { contents } = await packs.loadContents(items);
    assert.equal(contents.get(items[1]!.id), 'export function login(user, password) {\n  return user === "admin" && password === "secret";');
    assert.equal(contents.get(items[2]!.id), 'return');
    const meta = (await browser.frameTexts(`${item(items[0]!.id)} [data-test="meta"]`))[0] ?? '';
    assert.match(meta, /^user · 9\d B · ~2\d tokens · consumed by no stage yet · added by Dana Developer/);
    // Each item's stage: added while Implement is the active stage.
    const { events } = await new FileRecordStore(config.workspace).readChange(mainChangeId);
    assert.ok(events.filter((e) => e.type === 'context.itemAdded').every((e) => (e.data as { stageId?: string }).stageId === 'implement'));
  });

  it('marks items stale when their file changes on disk; refresh from the panel and the command make new versions', async () => {
    const before = (await pack()).version;
    const fileId = await itemIdByTitle('file', 'src/auth.js');
    writeFileSync(authPath, 'export function login(user, password) {\n  return user === "admin" && password === "hunter2";\n}\n');
    await eventually(async () => (await browser.frameTexts(`${PANEL} li[data-stale] [data-test="stale"]`)).length === 2, 'the file and the lines-1–2 selection to show as stale', 20_000);
    assert.deepEqual(await browser.frameTexts(`${item(fileId)} [data-test="stale"]`), ['changed on disk']);
    assert.match((await browser.frameTexts(`${PANEL} [data-test="stale-banner"]`))[0] ?? '', /2 items no longer match the workspace/);
    assert.equal(await shownVersion(), before, 'staleness alone is no new version');

    await browser.frameClick(`${item(fileId)} vscode-toolbar-button[data-action="refresh"]`);
    const refreshed = await eventually(async () => {
      const v = (await pack()).version;
      return v !== before ? v : undefined;
    }, 'the refresh to be recorded');
    await waitForShownVersion(refreshed, 'after refreshing the file from the panel');
    await eventually(async () => (await browser.frameTexts(`${PANEL} li[data-stale] [data-test="stale"]`)).length === 1, 'only the selection to be stale');

    const viaCommand = await vscode.commands.executeCommand<string>('factory.refreshStaleContext');
    assert.ok(viaCommand && viaCommand !== refreshed);
    await waitForShownVersion(viaCommand, 'after Refresh Stale Context');
    await eventually(async () => (await browser.frameTexts(`${PANEL} [data-test="stale-banner"]`)).length === 0, 'the stale banner to go');
    const { events } = await new FileRecordStore(config.workspace).readChange(mainChangeId);
    assert.equal(events.filter((e) => e.type === 'context.itemRefreshed').length, 2);
    // The history lists each version, newest first.
    const history = await browser.frameTexts(`${PANEL} [data-test="version-entry"]`);
    assert.equal(history.length, 5);
    assert.match(history[0]!, /\(current\)[\s\S]*refreshed src\/auth.js#L1-L2/);
  });

  it('pins and reorders from the panel with the mouse and the keyboard', async () => {
    const first = await itemIdByTitle('selection', 'src/auth.js#L1-L2');
    const second = await itemIdByTitle('selection', 'src/auth.js#L2:2-L2:8');
    const before = (await pack()).version;
    await browser.frameClick(`${item(second)} vscode-toolbar-button[data-action="up"]`);
    await eventually(async () => (await pack()).items.filter((i) => i.kind === 'selection')[0]?.id === second, 'the second selection to move up');
    await waitForShownVersion((await pack()).version, 'after moving up');
    assert.notEqual((await pack()).version, before);
    // Focus stays on the moved item; Alt+↓ moves it back, as in VS Code's lists.
    await browser.press('Alt+ArrowDown');
    await eventually(async () => (await pack()).items.filter((i) => i.kind === 'selection')[0]?.id === first, 'Alt+Down to move it back');
    await browser.frameClick(`${item(first)} vscode-toolbar-button[data-action="pin"]`);
    await eventually(async () => (await pack()).items.find((i) => i.id === first)?.pinned === true, 'the pin to be recorded');
    await eventually(async () => (await browser.frameEval(`${item(first)} vscode-toolbar-button[data-action="pin"]`, 'icon'))[0] === 'pinned', 'the pinned icon');
    await waitForShownVersion((await pack()).version, 'after pinning');
  });

  it('adds files dropped onto the panel, and refuses ones outside the workspace', async () => {
    const readme = vscode.Uri.file(join(config.workspace, 'README.md')).toString();
    await browser.frameDrop(`${PANEL} header`, [readme]);
    await eventually(async () => (await pack()).items.some((i) => i.kind === 'file' && i.title === 'README.md'), 'the dropped file in the record');
    await waitForShownVersion((await pack()).version, 'after the drop');
    assert.ok((await browser.frameTexts(`${PANEL} section[data-kind="file"] [data-action="open"]`)).includes('README.md'));

    await browser.frameDrop(`${PANEL} header`, ['file:///etc/hostname']);
    const notice = await eventually(async () => (await browser.frameTexts(`${PANEL} [data-test="notice"]`))[0], 'the refusal');
    assert.match(notice, /\/etc\/hostname is not inside the workspace/);
    await browser.frameClick(`${PANEL} [data-test="notice"] vscode-toolbar-button`);
  });

  it('opens an item at its source, adds the detected conventions, compares two versions and removes an item, all from the panel', async () => {
    const lines = await itemIdByTitle('selection', 'src/auth.js#L1-L2');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await browser.frameClick(`${item(lines)} [data-action="open"]`);
    const editor = await eventually(() => (vscode.window.activeTextEditor?.document.uri.fsPath === authPath ? vscode.window.activeTextEditor : undefined), 'src/auth.js to open');
    assert.deepEqual([editor.selection.start.line, editor.selection.start.character, editor.selection.end.line], [0, 0, 1], 'the selection is the item\'s lines');

    await browser.frameClick(`${PANEL} vscode-button[data-action="conventions"]`);
    await browser.frameClick(`${PANEL} vscode-button[data-action="add-convention"]`);
    await eventually(async () => (await pack()).items.some((i) => i.kind === 'convention' && i.title === 'AGENTS.md'), 'AGENTS.md in the record as a convention');
    await eventually(async () => (await browser.frameTexts(`${PANEL} section[data-kind="convention"] [data-action="open"]`)).includes('AGENTS.md'), 'the Conventions section');
    await eventually(async () => (await browser.frameTexts(`${PANEL} [data-test="conventions"]`)).some((t) => t.includes('in the pack')), 'the convention offered no more');

    await browser.frameClick(`${PANEL} vscode-collapsible[data-test="history"]`);
    await browser.frameClick(`${PANEL} vscode-button[data-action="compare"]`);
    const diff = await eventually(async () => (await browser.frameTexts(`${PANEL} [data-test="diff"]`))[0], 'the diff of the last two versions');
    assert.match(diff, /\+ AGENTS\.md \(convention, ~\d+ tokens\)/);

    const readme = await itemIdByTitle('file', 'README.md');
    await browser.frameClick(`${item(readme)} vscode-toolbar-button[data-action="remove"]`);
    await eventually(async () => !(await pack()).items.some((i) => i.id === readme), 'README.md removed from the record');
    await waitForShownVersion((await pack()).version, 'after the removal');
    assert.equal((await browser.frameTexts(`${item(readme)}`)).length, 0);
  });

  it('renders hostile text from a note as text: no element is made and nothing runs', async () => {
    await browser.frameClick(`${PANEL} vscode-button[data-action="add-note"]`);
    await browser.frameClick(`${PANEL} vscode-textarea[data-test="note-text"]`);
    await browser.type(HOSTILE);
    await browser.frameClick(`${PANEL} vscode-button[data-action="submit-note"]`);
    await eventually(async () => (await pack()).items.some((i) => i.kind === 'note'), 'the note in the record');
    const note = (await pack()).items.find((i) => i.kind === 'note')!;
    assert.equal(note.title, HOSTILE);
    await eventually(async () => (await browser.frameTexts(`${item(note.id)} [data-action="open"]`))[0] === HOSTILE, 'the literal text as the note title');
    assert.deepEqual(await browser.frameTexts(`${item(note.id)} [data-test="preview"]`), [HOSTILE]);
    assert.deepEqual(await browser.frameEval(`${PANEL} img`, 'tagName'), [], 'no img element in the panel');
    assert.deepEqual(await browser.frameEval(`${PANEL} script`, 'tagName'), [], 'no script element in the panel');
    assert.deepEqual(await browser.dialogs(), [], 'no dialog opened');
  });

  it('keeps its state (an open note draft) when the view is hidden and shown again', async () => {
    await browser.frameClick(`${PANEL} vscode-button[data-action="add-note"]`);
    await browser.frameClick(`${PANEL} vscode-textarea[data-test="note-text"]`);
    await browser.type('draft that survives');
    await vscode.commands.executeCommand('workbench.view.explorer');
    await eventually(async () => (await browser.frameEval(`${PANEL} [data-test="version"]`, 'title')).length === 0, 'the webview to be released while hidden');
    await vscode.commands.executeCommand('factory.showContext');
    const draft = await eventually(async () => (await browser.frameEval(`${PANEL} vscode-textarea[data-test="note-text"]`, 'value'))[0], 'the note form back');
    assert.equal(draft, 'draft that survives');
    await waitForShownVersion((await pack()).version, 'after showing again');
    await browser.frameClick(`${PANEL} [data-test="note-form"] vscode-button[secondary]`);
  });

  it('looks native in dark and light themes (screenshots)', async () => {
    const settings = vscode.workspace.getConfiguration();
    const original = settings.inspect<string>('workbench.colorTheme')?.globalValue;
    // Room for the pack in the picture: fold the Stages view above it for the shot.
    const stagesHeader = '.part.sidebar .pane-header:has-text("Stages")';
    const stagesOpen = (await browser.attributes(stagesHeader, 'aria-expanded'))[0] === 'true';
    // The title, not the header's middle, where its action buttons sit.
    const toggleStages = () => browser.click(`${stagesHeader} h3.title`);
    if (stagesOpen) {
      await toggleStages();
      await eventually(async () => (await browser.attributes(stagesHeader, 'aria-expanded'))[0] === 'false', 'the Stages view to fold');
    }
    try {
      for (const [theme, name, bodyClass] of [
        ['Default Dark Modern', 'context-panel-dark', 'vscode-dark'],
        ['Default Light Modern', 'context-panel-light', 'vscode-light'],
      ] as const) {
        await settings.update('workbench.colorTheme', theme, vscode.ConfigurationTarget.Global);
        await eventually(async () => ((await browser.frameEval('body', 'className')) as string[]).some((c) => c.includes(bodyClass)), `the webview to take the ${theme} theme`);
        await vscode.commands.executeCommand('factory.showContext');
        await eventually(async () => (await shownVersion()) === (await pack()).version, 'the panel content');
        await new Promise((r) => setTimeout(r, 500)); // let the theme's colours settle before the picture
        await browser.screenshot(name);
      }
      await assertNoCspViolation(PANEL, 'while the panel draws');
    } finally {
      await settings.update('workbench.colorTheme', original, vscode.ConfigurationTarget.Global);
      if (stagesOpen) await toggleStages();
    }
  });
});
