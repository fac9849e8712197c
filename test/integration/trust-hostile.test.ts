// A hostile repository opened in Restricted Mode: links planted at every level of
// .factory/ lead outside the workspace, a corrupt event waits to be set aside, and the
// titles carry icon syntax, a command link and a right-to-left override. The cockpit
// reads everything, writes nothing into the workspace (byte-identical afterwards),
// touches nothing outside it, reports each problem with its path, still lists the
// valid changes, and shows every untrusted string as plain text.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const config = runConfig();
const ws = config.workspace;
const outside = join(dirname(ws), `outside-${Date.now()}`);
const HOSTILE = 'Ship it $(check) [run me](command:workbench.action.quit) \u202Eexe.txt';
const STAGE = 'Plan $(pass-filled) [x](command:workbench.action.closeWindow) \u202Egnp';
const ROWS = '.part.sidebar .monaco-list-row';

/** Every file and link under `root` (names, link targets, contents, modes), in one hash. */
function treeHash(root: string, skip: (rel: string) => boolean = () => false): string {
  const hash = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (skip(relPath)) continue;
      const stat = lstatSync(path);
      hash.update(`${relPath}\0${stat.mode}\0`);
      if (stat.isSymbolicLink()) hash.update(`-> ${readlinkSync(path)}\0`);
      else if (stat.isDirectory()) walk(path, relPath);
      else hash.update(readFileSync(path));
    }
  };
  walk(root, '');
  return hash.digest('hex');
}

const event = (change: string, id: string, type: string, data: Record<string, unknown>) => `${JSON.stringify({ v: 1, id, change, type, at: '2026-11-30T10:00:00.000Z', by: { name: 'Mallory' }, data })}\n`;

describe('A hostile repository in Restricted Mode', function () {
  this.timeout(120_000);
  let workspaceBefore = '';
  let outsideBefore = '';

  before(async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'this suite starts untrusted');
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.ready && s.changes.length >= 1, 'the sample record read');
    // The rest of the disk, as far as the workspace can tell.
    mkdirSync(join(outside, 'events'), { recursive: true });
    writeFileSync(join(outside, 'secret.txt'), 'not yours\n');
    writeFileSync(join(outside, 'events', '01JBBBBBBBBBBBBBBBBBBBBBBB.json'), event('stolen', '01JBBBBBBBBBBBBBBBBBBBBBBB', 'change.created', { title: 'Read from outside' }));
    const changes = join(ws, '.factory', 'changes');
    // A change folder that is a link out, an events folder that is a link out, an event file that is a link out.
    symlinkSync(outside, join(changes, 'linked-change'));
    mkdirSync(join(changes, 'linked-events'));
    symlinkSync(join(outside, 'events'), join(changes, 'linked-events', 'events'));
    mkdirSync(join(changes, 'linked-event', 'events'), { recursive: true });
    symlinkSync(join(outside, 'secret.txt'), join(changes, 'linked-event', 'events', '01JCCCCCCCCCCCCCCCCCCCCCCC.json'));
    // A change with hostile text, and a corrupt event Restricted Mode must not move.
    mkdirSync(join(changes, 'hostile-title', 'events'), { recursive: true });
    writeFileSync(join(changes, 'hostile-title', 'events', '01JDDDDDDDDDDDDDDDDDDDDDDD.json'), event('hostile-title', '01JDDDDDDDDDDDDDDDDDDDDDDD', 'change.created', { title: HOSTILE, ticket: 'SEC-1' }));
    writeFileSync(join(changes, 'hostile-title', 'events', '01JEEEEEEEEEEEEEEEEEEEEEEE.json'), '{"v":1,"id":"01JEEEEEEEEEEEEEEEEEEEEEEE", "truncated');
    // The evidence store's fan-out folder is a link out too.
    mkdirSync(join(ws, '.factory', 'evidence'), { recursive: true });
    symlinkSync(outside, join(ws, '.factory', 'evidence', 'ee'));
    // A stage title that tries icons, a link and reversed text.
    const pipelinePath = join(ws, '.factory', 'pipeline.json');
    const pipeline = JSON.parse(readFileSync(pipelinePath, 'utf8')) as { stages: { title: string }[] };
    pipeline.stages[0]!.title = STAGE;
    writeFileSync(pipelinePath, `${JSON.stringify(pipeline, null, 2)}\n`);
    // Everything but git's own folder: nothing the cockpit does may change a byte of it.
    workspaceBefore = treeHash(ws, (rel) => rel === '.git');
    outsideBefore = treeHash(outside);
  });

  after(() => rmSync(outside, { recursive: true, force: true }));

  it('reads through every reader, reports each link and the corrupt file with its path, writes nothing, and still lists the valid changes', async () => {
    const api = await cockpitApi();
    await api.refresh();
    await vscode.commands.executeCommand('factory.switchChange', 'hostile-title');
    const s = await snapshotWhere(api, (x) => x.current?.id === 'hostile-title', 'the hostile change current');
    assert.ok(s.changes.length >= 2, 'the valid changes still list');
    assert.ok(!s.changes.some((c) => c.title === 'Read from outside'), 'nothing was read through a link');
    const paths = s.problems.map((p) => p.path).join('\n');
    for (const planted of ['.factory/changes/linked-change', '.factory/changes/linked-events/events', '.factory/changes/hostile-title/events/01JEEEEEEEEEEEEEEEEEEEEEEE.json']) {
      assert.ok(paths.includes(planted), `${planted} is reported: ${paths}`);
    }
    assert.ok(s.problems.every((p) => !p.quarantinedTo), 'Restricted Mode sets nothing aside');
    // Every other reader: verification evidence, the context view, the transcript of the sample's attempts.
    await vscode.commands.executeCommand('factory.verifyEvidence');
    await vscode.commands.executeCommand('factory.showContext');
    await vscode.commands.executeCommand('factory.showStages');
    await eventually(async () => (await browser.texts(ROWS)).some((t) => t.includes('linked-change')), 'a problem row naming the link');
    await browser.screenshot('hostile-repository-restricted');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(treeHash(outside), outsideBefore, 'nothing outside the workspace was created or changed');
    assert.equal(treeHash(ws, (rel) => rel === '.git'), workspaceBefore, 'the workspace is byte-identical');
  });

  it('shows hostile titles as text: no icon, no link, the override escaped — in the tree, the status bar, a notification and a quick pick', async () => {
    await vscode.commands.executeCommand('factory.showStages');
    const changeRow = `${ROWS}:visible:has-text("Ship it")`;
    await eventually(async () => (await browser.texts(changeRow)).length > 0, 'the hostile change row');
    const rowText = (await browser.texts(changeRow)).join('\n');
    assert.match(rowText, /\$\u2060\(check\)/, 'the icon syntax is shown as written, broken by a word joiner');
    assert.match(rowText, /\\u202E/, 'the right-to-left override is shown escaped');
    assert.equal((await browser.attributes(`${changeRow} .codicon-check`, 'class')).length, 0, 'no icon rendered from the title');
    const stageRow = `${ROWS}:visible:has-text("Plan")`;
    assert.equal((await browser.attributes(`${stageRow} .label-name .codicon-pass-filled`, 'class')).length, 0, 'no icon from the stage title');

    const status = '.statusbar-item[id="factory-cockpit.factory-cockpit.factory.status"]';
    const statusText = (await browser.texts(status)).join('\n');
    assert.match(statusText, /Ship it/);
    assert.equal((await browser.attributes(`${status} .codicon-check`, 'class')).length, 0, 'no check mark faked in the status bar');

    // A notification quoting the stage title (the engine refuses to stop a stage that is not running;
    // an approval would be refused for Restricted Mode first, without the title).
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('factory.stopStage', { changeId: 'hostile-title', stageId: 'plan' });
    await vscode.commands.executeCommand('notifications.showList');
    const message = '.notifications-center .notification-list-item-message';
    const texts = await eventually(async () => {
      const found = await browser.texts(message);
      return found.some((t) => t.includes('is not running')) ? found : undefined;
    }, 'the refusal quoting the hostile stage title');
    assert.ok(texts.some((t) => /\\u202E/.test(t) && t.includes('[x]')), JSON.stringify(texts));
    assert.equal((await browser.attributes(`${message} a`, 'href')).length, 0, 'nothing in a notification is a link');
    await browser.screenshot('hostile-notification');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('notifications.hideList');

    // The change picker.
    const picking = vscode.commands.executeCommand('factory.switchChange');
    await browser.waitFor('.quick-input-widget .quick-input-list .monaco-list-row', 20_000);
    const items = await browser.texts('.quick-input-widget .quick-input-list .monaco-list-row');
    assert.ok(items.some((t) => t.includes('Ship it') && /\\u202E/.test(t)), JSON.stringify(items));
    assert.equal((await browser.attributes('.quick-input-widget .quick-input-list .monaco-list-row .codicon-check', 'class')).length, 0, 'no icon in the picker');
    await browser.screenshot('hostile-quick-pick');
    await browser.press('Escape');
    await picking;
  });
});
