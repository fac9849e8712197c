// A large record in a real VS Code (issue 22): thousands of changes another process
// adds are listed as they are indexed while the current change stays shown in full,
// a corrupt one is announced, and an event written by another process appears after a
// refresh that read only its change folder — checked through the API and the workbench.
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import * as vscode from 'vscode';
import type { CockpitSnapshot } from '../../src/ui/cockpit';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const ADDED = 2000;
const nextId = monotonicFactory();

describe('A large record', () => {
  const config = runConfig();
  const { mainChangeId } = config.sample;
  const changesDir = join(config.workspace, '.factory', 'changes');

  /** An event file as another process (a CLI, a teammate's pull) writes it: plain fs, no extension code. */
  const writeEvent = (changeId: string, type: string, data: object): string => {
    const dir = join(changesDir, changeId, 'events');
    mkdirSync(dir, { recursive: true });
    const id = nextId();
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ v: 1, id, change: changeId, type, at: new Date().toISOString(), by: { name: 'Another process' }, data }));
    return id;
  };

  it('lists thousands of changes as they are indexed, the current change shown throughout, and announces a corrupt one', async () => {
    const api = await cockpitApi();
    const before = await snapshotWhere(api, (s) => s.current?.id === mainChangeId && s.indexing === undefined, 'the sample change shown');
    const seen: CockpitSnapshot[] = [];
    const subscription = api.onDidChange((s) => seen.push(s));
    try {
      for (let i = 0; i < ADDED; i++) writeEvent(`large-${String(i).padStart(4, '0')}`, 'change.created', { title: `Large change ${i}`, ticket: `BIG-${i}` });
      // One change with a good event and a file that is not JSON.
      writeEvent('large-corrupt', 'change.created', { title: 'Large corrupt change' });
      writeFileSync(join(changesDir, 'large-corrupt', 'events', `${nextId()}.json`), '{"v":1,"id":');
      const total = before.changes.length + ADDED + 1;
      const final = await snapshotWhere(api, (s) => s.indexing === undefined && s.changes.length === total, `all ${total} changes listed`, 180_000);
      assert.equal(final.current?.id, mainChangeId);

      const indexing = seen.filter((s) => s.indexing && s.indexing.done < s.indexing.total);
      assert.ok(indexing.length > 0, `indexing was shown (snapshots: ${seen.map((s) => `${s.changes.length}${s.indexing ? ` ${s.indexing.done}/${s.indexing.total}` : ''}`).join(', ')})`);
      for (const s of indexing) {
        assert.equal(s.current?.id, mainChangeId, 'the current change stays shown while the others are indexed');
        assert.ok((s.current?.stages.find((st) => st.id === 'implement')?.attempts.length ?? 0) >= 2, 'in full, with its attempts');
        assert.ok(s.changes.length < total, 'while the list is not complete');
      }
      const sizes = seen.map((s) => s.changes.length);
      assert.ok(sizes.some((n) => n > before.changes.length && n < total), `the list filled in as it went: ${sizes.join(', ')}`);

      // The corrupt file found while indexing is announced like any record problem.
      assert.ok(final.problems.some((p) => p.path.startsWith('.factory/changes/large-corrupt/events/')));
      await vscode.commands.executeCommand('notifications.showList');
      await eventually(async () => (await browser.texts('.notification-list-item-message')).some((t) => /record file failed validation and was set aside: \.factory\/changes\/large-corrupt\/events\//.test(t)), 'the warning notification');
      await vscode.commands.executeCommand('notifications.clearAll');
    } finally {
      subscription.dispose();
    }

    // Switch Change offers every change once indexed: the last one written is found by its title.
    const picked = vscode.commands.executeCommand<string | undefined>('factory.switchChange');
    const input = '.quick-input-widget .quick-input-box input';
    await browser.waitFor(input, 20_000);
    await browser.click(input);
    await browser.type(`Large change ${ADDED - 1}`);
    await eventually(async () => (await browser.texts('.quick-input-widget .quick-input-list')).some((t) => t.includes(`BIG-${ADDED - 1}`)), 'the last change added in the Switch Change pick');
    await browser.press('Escape');
    assert.equal(await picked, undefined);
  });
  it('shows an event another process wrote after re-reading only that change folder', async () => {
    const api = await cockpitApi();
    const before = await snapshotWhere(api, (s) => s.current?.id === mainChangeId && s.indexing === undefined, 'the sample change shown');
    assert.ok(before.changes.length > ADDED, 'after the changes of the test before');
    writeEvent(mainChangeId, 'stage.ownerChanged', { stageId: 'review', owner: { backend: 'codex' } });
    const after = await snapshotWhere(api, (s) => s.current?.stages.find((st) => st.id === 'review')?.owner.backend === 'codex', 'the new owner of Review');
    assert.equal(after.checked, 1, `the refresh looked at the one change folder the watcher named, not all ${after.changes.length}`);
    // What a person sees: the Review row with its new owner.
    await vscode.commands.executeCommand('factory.showStages');
    await eventually(async () => (await browser.attributes('.part.sidebar .monaco-list-row', 'aria-label')).some((l) => /^Review, .*owner codex/.test(l ?? '')), 'the Review row owned by codex');
  });

});
