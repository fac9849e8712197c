// Real processes against one record: kill -9 at random moments, and two writers at once.
import * as assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileRecordStore, type RecordProblem } from '../../../src/store/recordStore';
import { EVENT_FILE_NAME } from '../../../src/store/eventFile';
import { isTempName } from '../../../src/store/atomicFile';
import { collectLines, exited, seededRandom, spawnTs, tempWorkspace, WORKER } from './helpers';

describe('store: crashes and concurrent writers (real processes)', function () {
  this.timeout(120_000);
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('crash')));
  afterEach(() => ws.cleanup());

  it('kill -9 at random moments during 1,000 appends leaves no corrupt file and every acknowledged event', async () => {
    const random = seededRandom(20261120);
    const acknowledged: string[] = [];
    let kills = 0;
    while (acknowledged.length < 1000) {
      const child = spawnTs(WORKER, [ws.dir, 'crash-test', String(1000 - acknowledged.length), `run${kills}`]);
      const out = collectLines(child);
      const done = exited(child);
      // Kill after a random number of acknowledged appends, at a random instant within the
      // next append (each takes a few ms: write, fsync, link, unlink, fsync of the folder).
      const remaining = 1000 - acknowledged.length;
      if (remaining > 150) {
        const killAt = 30 + Math.floor(random() * 100);
        const delayMs = random() * 8;
        out.onLine((line) => {
          if (line !== 'ready' && out.lines.length - 1 === killAt) {
            setTimeout(() => child.kill('SIGKILL'), delayMs);
            kills++;
          }
        });
      }
      const { code, signal } = await done;
      assert.ok(code === 0 || signal === 'SIGKILL', `worker failed with ${code}`);
      acknowledged.push(...out.lines.filter((l) => l !== 'ready'));
    }
    assert.ok(kills >= 3, `expected several kills, got ${kills}`);

    const problems: RecordProblem[] = [];
    const store = new FileRecordStore(ws.dir, { onProblem: (p) => problems.push(p) });
    const record = await store.readChange('crash-test');
    assert.deepEqual(problems, [], 'no torn or corrupt event file');
    const ids = new Set(record.events.map((e) => e.id));
    const missing = acknowledged.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'every acknowledged event is present');
    assert.equal(ids.size, record.events.length, 'no duplicate');
    // Anything else in the folder is a temp file of a killed writer, which readers ignore.
    const names = readdirSync(join(ws.dir, '.factory', 'changes', 'crash-test', 'events'));
    for (const name of names) assert.ok(EVENT_FILE_NAME.test(name) || isTempName(name), `unexpected file ${name}`);
  });

  it('2 processes × 1,000 events into one change: all 2,000 present, once each, in each writer\'s order', async () => {
    const writers = ['a', 'b'].map((name) => {
      const child = spawnTs(WORKER, [ws.dir, 'race', '1000', name]);
      return { name, child, out: collectLines(child), done: exited(child) };
    });
    for (const w of writers) assert.equal((await w.done).code, 0, `writer ${w.name} failed`);

    const store = new FileRecordStore(ws.dir);
    const record = await store.readChange('race');
    assert.deepEqual(record.problems, []);
    assert.equal(record.events.length, 2000);
    const notes = record.events.map((e) => String(e.data.note));
    assert.equal(new Set(notes).size, 2000, 'each event once');
    const ids = record.events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort(), 'totally ordered by id');
    for (const w of writers) {
      const acked = w.out.lines.filter((l) => l !== 'ready');
      assert.equal(acked.length, 1000);
      // A writer's events come back in the order it wrote them (monotonic ids per process).
      const mine = record.events.filter((e) => String(e.data.note).startsWith(`${w.name}:`)).map((e) => String(e.data.note));
      assert.deepEqual(mine, Array.from({ length: 1000 }, (_, i) => `${w.name}:${i}`));
      assert.deepEqual(record.events.filter((e) => acked.includes(e.id)).length, 1000);
    }
  });
});
