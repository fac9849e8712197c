// A large record in a real VS Code (issue 22): thousands of changes another process
// adds are listed as they are indexed while the current change stays shown in full,
// a corrupt one is announced, and an event written by another process appears after a
// refresh that read only its change folder, and events another process keeps writing
// while the cockpit refreshes end up shown exactly as on disk, never an older reading
// after a newer one — checked through the API and the workbench.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import * as vscode from 'vscode';
import { foldChange } from '../../src/core/fold';
import { FileRecordStore } from '../../src/store/recordStore';
import type { CockpitSnapshot } from '../../src/ui/cockpit';
import { browser, eventually, runConfig } from './support/driver';
import { cockpitApi, snapshotWhere } from './support/cockpit';

const ADDED = 2000;
const nextId = monotonicFactory();

describe('A large record', () => {
  const config = runConfig();
  const { mainChangeId, otherChangeId } = config.sample;
  const changesDir = join(config.workspace, '.factory', 'changes');

  /** An event file as another process (a CLI, a teammate's pull) writes it: plain fs, no extension code. */
  const writeEvent = (changeId: string, type: string, data: object): string => {
    const dir = join(changesDir, changeId, 'events');
    mkdirSync(dir, { recursive: true });
    const id = nextId();
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ v: 1, id, change: changeId, type, at: new Date().toISOString(), by: { name: 'Another process' }, data }));
    return id;
  };

  it('lists thousands of changes as they are indexed, the current change shown throughout, and announces a corrupt one', async function () {
    // Its own wait for the list is 180 s (a loaded machine), so mocha's must be longer.
    this.timeout(240_000);
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

  it('shows exactly what another process wrote while it refreshed, never an older reading after a newer one', async () => {
    const api = await cockpitApi();
    await snapshotWhere(api, (s) => s.current?.id === mainChangeId && s.indexing === undefined, 'the sample change shown');
    const attemptsOf = (c: ChangeLike | undefined) => c?.stages.find((st) => st.id === 'qa')?.attempts.length;
    const before = attemptsOf(api.snapshot().current)!;
    // Attempts started and finished on the current change and on another one, written by a
    // child process as a runner would (temp file, then rename), a few milliseconds apart.
    const ROUNDS = 25;
    const events: Array<{ dir: string; id: string; json: string }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const changeId of [mainChangeId, otherChangeId]) {
        const attemptId = nextId();
        const started = { stageId: 'qa', attemptId, backend: 'human', number: round + 1 };
        const finished = { stageId: 'qa', attemptId, outcome: round === ROUNDS - 1 && changeId === otherChangeId ? 'cancelled' : 'failed' };
        for (const [type, data] of [['attempt.started', started], ['attempt.finished', finished]] as const) {
          const id = nextId();
          const json = JSON.stringify({ v: 1, id, change: changeId, type, at: new Date().toISOString(), by: { name: 'Another process' }, data });
          events.push({ dir: join(changesDir, changeId, 'events'), id, json });
        }
      }
    }
    const plan = join(mkdtempSync(join(tmpdir(), 'fc-writer-')), 'events.json');
    writeFileSync(plan, JSON.stringify(events));
    const writer = `
      const fs = require('node:fs'), path = require('node:path');
      const events = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
      let i = 0;
      const next = () => {
        if (i === events.length) return;
        const { dir, id, json } = events[i++];
        const temp = path.join(dir, '.' + id + '.tmp');
        fs.writeFileSync(temp, json);
        fs.renameSync(temp, path.join(dir, id + '.json'));
        setTimeout(next, 15 + Math.floor(Math.random() * 30));
      };
      next();`;
    const seen: CockpitSnapshot[] = [];
    const subscription = api.onDidChange((s) => seen.push(s));
    try {
      const child = spawn(process.execPath, ['-e', writer, plan], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      // Full checks (the safety net) asked for all along, racing the watcher's targeted refreshes.
      let writing = true;
      void exited.then(() => (writing = false));
      while (writing) {
        void vscode.commands.executeCommand('factory.refresh');
        await new Promise((resolve) => setTimeout(resolve, 120));
      }
      assert.equal(await exited, 0, `the writer failed: ${stderr}`);

      // What is on disk now, folded by a reader of its own.
      const store = new FileRecordStore(config.workspace, { cacheDir: mkdtempSync(join(tmpdir(), 'fc-reader-')) });
      const { pipeline } = await store.loadPipeline({ createIfMissing: false });
      const onDisk = (id: string) => store.readChange(id).then((r) => foldChange(id, pipeline!, r.events));
      const [main, other] = [await onDisk(mainChangeId), await onDisk(otherChangeId)];
      assert.equal(attemptsOf(main), before + ROUNDS);
      const statuses = (c: ChangeLike | undefined) => c?.stages.map((st) => `${st.id}:${st.status}`).join(' ');
      const attemptCounts = (c: ChangeLike | undefined) => c?.stages.map((st) => `${st.id}:${st.attempts.length}:${st.attempts.at(-1)?.outcome ?? '-'}`).join(' ');
      const final = await snapshotWhere(
        api,
        (s) => s.current?.id === mainChangeId && attemptCounts(s.current) === attemptCounts(main) && statuses(s.changes.find((c) => c.id === otherChangeId)) === statuses(other),
        'the snapshot showing what is on disk',
        30_000,
      );
      assert.equal(statuses(final.changes.find((c) => c.id === otherChangeId)), statuses(other));

      // Published in order: once a snapshot showed n attempts, none after it shows fewer.
      const counts = seen.filter((s) => s.current?.id === mainChangeId).map((s) => attemptsOf(s.current)!);
      assert.ok(counts.length > 2, `snapshots were published while the writer ran (${counts.length})`);
      counts.forEach((n, i) => assert.ok(i === 0 || n >= counts[i - 1]!, `snapshot ${i} shows ${n} attempts after one that showed ${counts[i - 1]}: ${counts.join(' ')}`));
    } finally {
      subscription.dispose();
    }
    // What a person sees: the QA row with every attempt.
    await vscode.commands.executeCommand('factory.showStages');
    const qaTitle = api.snapshot().current!.stages.find((st) => st.id === 'qa')!.title;
    await eventually(
      async () => (await browser.attributes('.part.sidebar .monaco-list-row', 'aria-label')).some((l) => (l ?? '').startsWith(`${qaTitle}, `) && (l ?? '').endsWith(`, ${before + ROUNDS} attempts`)),
      `the ${qaTitle} row with ${before + ROUNDS} attempts`,
    );
  });
});

type ChangeLike = Pick<CockpitSnapshot['changes'][number], 'stages'>;
