// ≥ 500 malformed or hostile record files: none crashes the store, each is reported
// (path + field) and quarantined, the valid events load, and nothing is polluted.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { FileRecordStore, type RecordProblem } from '../../../src/store/recordStore';
import { seededRandom, tempWorkspace } from './helpers';

const CHANGE = 'fuzzed';
const ulid = monotonicFactory();

function validEvent(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { v: 1, id, change: CHANGE, type: 'attempt.started', at: '2026-11-20T09:00:00.000Z', by: { name: 'Ada' }, data: { stageId: 'implement', attemptId: id, backend: 'claude-code' }, ...extra };
}

type Hostile = { name: string; content: string | Buffer; field?: string };

function hostileFiles(random: () => number): Hostile[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const files: Hostile[] = [];
  const add = (content: string | Buffer, field?: string, name = `${ulid()}.json`) => files.push({ name, content, ...(field !== undefined ? { field } : {}) });
  const withId = (mutate: (e: Record<string, unknown>) => void, field?: string) => {
    const id = ulid();
    const event = validEvent(id);
    mutate(event);
    add(JSON.stringify(event), field, `${id}.json`);
  };

  for (let i = 0; i < 150; i++) {
    // Truncated at a random point: never a whole JSON value.
    const id = ulid();
    const text = JSON.stringify(validEvent(id), null, 2);
    add(text.slice(0, 1 + Math.floor(random() * (text.length - 3))), '', `${id}.json`);
  }
  const wrongTypes: Array<[string, (e: Record<string, unknown>) => void]> = [
    ['v', (e) => (e.v = '1')],
    ['v', (e) => (e.v = -3)],
    ['id', (e) => (e.id = 5)],
    ['change', (e) => (e.change = null)],
    ['type', (e) => (e.type = 42)],
    ['at', (e) => (e.at = 'yesterday')],
    ['by', (e) => (e.by = 'Ada')],
    ['data', (e) => (e.data = [])],
    ['data.stageId', (e) => ((e.data as Record<string, unknown>).stageId = { nested: true })],
    ['data.attemptId', (e) => ((e.data as Record<string, unknown>).attemptId = 'not-a-ulid')],
    ['data.backend', (e) => delete (e.data as Record<string, unknown>).backend],
  ];
  for (let i = 0; i < 110; i++) {
    const [field, mutate] = pick(wrongTypes);
    withId(mutate, field);
  }
  for (let i = 0; i < 40; i++) {
    // Path traversal in fields: a change id or event id that tries to name a path.
    const [field, value] = pick([
      ['change', '../../etc'],
      ['change', '/etc/passwd'],
      ['change', 'fuzzed/../../x'],
      ['id', '../../../etc/passwd'],
      ['data.attemptId', '..\\..\\windows'],
    ] as const);
    withId((e) => {
      if (field === 'data.attemptId') (e.data as Record<string, unknown>).attemptId = value;
      else e[field] = value;
    }, field);
  }
  for (let i = 0; i < 40; i++) {
    // Huge strings in constrained fields (the file stays under the size limit).
    const huge = 'A'.repeat(50_000 + Math.floor(random() * 200_000));
    const field = pick(['id', 'change', 'at', 'data.attemptId']);
    withId((e) => {
      if (field === 'data.attemptId') (e.data as Record<string, unknown>).attemptId = huge;
      else e[field] = huge;
    }, field);
  }
  for (let i = 0; i < 3; i++) {
    // Over the size limit as a whole.
    const id = ulid();
    add(JSON.stringify(validEvent(id, { padding: 'x'.repeat(4 * 1024 * 1024 + 10) })), '', `${id}.json`);
  }
  const pollution = [
    (id: string) => `{"__proto__":{"polluted":"yes"},${JSON.stringify(validEvent(id)).slice(1)}`,
    (id: string) => `{"constructor":{"prototype":{"polluted":"yes"}},${JSON.stringify(validEvent(id)).slice(1)}`,
    (id: string) => JSON.stringify(validEvent(id)).replace('"data":{', '"data":{"__proto__":{"polluted":"yes"},'),
    (id: string) => `{"\\u005f_proto__":{"polluted":"yes"},${JSON.stringify(validEvent(id)).slice(1)}`,
    (id: string) => JSON.stringify(validEvent(id)).replace('"by":{', '"by":{"prototype":{"polluted":"yes"},'),
  ];
  for (let i = 0; i < 60; i++) {
    const id = ulid();
    add(pick(pollution)(id), undefined, `${id}.json`);
  }
  for (let i = 0; i < 40; i++) {
    // Not an event object at all.
    const id = ulid();
    add(pick(['null', '[]', '42', '"text"', 'true', '{}', '', '\uFEFF{}', '{"v":1}']), undefined, `${id}.json`);
  }
  for (let i = 0; i < 30; i++) {
    const bytes = Buffer.alloc(64 + Math.floor(random() * 512));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    add(bytes, '');
  }
  for (let i = 0; i < 20; i++) {
    // A valid event stored under the wrong name, or naming another change.
    const id = ulid();
    if (i % 2) add(JSON.stringify(validEvent(id)), 'id', `${ulid()}.json`);
    else add(JSON.stringify({ ...validEvent(id), change: 'another-change' }), 'change', `${id}.json`);
  }
  for (let i = 0; i < 20; i++) {
    // File names that are not <ULID>.json, including traversal-looking ones.
    const name = pick(['..json', '%2e%2e%2fetc.json', '..\\..\\x.json', `${ulid().toLowerCase()}.json`, `${ulid()}.JSON`, `${ulid()}.json.bak`, 'evil name.json', `${ulid()}json`, `x\nnewline.json`]);
    add(JSON.stringify(validEvent(ulid())), '', `${name}-${i}`);
  }
  for (let i = 0; i < 10; i++) {
    // A version older than any migration.
    withId((e) => (e.v = 0), 'v');
  }
  return files;
}

describe('store: fuzzed and hostile record files', function () {
  this.timeout(60_000);
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('fuzz')));
  afterEach(() => ws.cleanup());

  it('reports and quarantines each of ≥ 500 bad files, loads the rest, and pollutes nothing', async () => {
    const events = join(ws.dir, '.factory', 'changes', CHANGE, 'events');
    mkdirSync(events, { recursive: true });
    const files = hostileFiles(seededRandom(500));
    for (const f of files) writeFileSync(join(events, f.name), f.content);
    // Links and folders where a file should be.
    const outside = tempWorkspace('outside');
    writeFileSync(join(outside.dir, 'secret.json'), JSON.stringify(validEvent(ulid())));
    const linked = [`${ulid()}.json`, `${ulid()}.json`, `${ulid()}.json`];
    symlinkSync('/etc/passwd', join(events, linked[0]!));
    symlinkSync(join(outside.dir, 'secret.json'), join(events, linked[1]!));
    mkdirSync(join(events, linked[2]!));
    const hostileCount = files.length + linked.length;
    assert.ok(hostileCount >= 500, `only ${hostileCount} hostile files`);

    const valid: string[] = [];
    for (let i = 0; i < 50; i++) {
      const id = ulid();
      valid.push(id);
      // Unknown fields from a newer version ride along and must be kept.
      writeFileSync(join(events, `${id}.json`), JSON.stringify(validEvent(id, { futureField: { kept: i } })));
    }

    const reported: RecordProblem[] = [];
    const store = new FileRecordStore(ws.dir, { onProblem: (p) => reported.push(p) });
    const record = await store.readChange(CHANGE);

    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
    assert.deepEqual(record.events.map((e) => e.id), valid, 'every valid event loads, in order');
    assert.deepEqual(record.events.map((e) => (e.futureField as { kept: number }).kept), valid.map((_, i) => i), 'unknown fields are kept');
    assert.equal(record.problems.length, hostileCount, 'each bad file is one problem');
    assert.equal(reported.length, hostileCount, 'and each is reported through onProblem');
    assert.equal(new Set(record.problems.map((p) => p.path)).size, hostileCount);
    for (const problem of record.problems) {
      assert.ok(problem.path.startsWith(`.factory/changes/${CHANGE}/events/`), problem.path);
      assert.ok(problem.message.length > 0);
      assert.ok(problem.quarantinedTo?.startsWith('.factory/quarantine/'), `${problem.path} was quarantined`);
      assert.ok(existsSync(join(ws.dir, problem.quarantinedTo!)), `${problem.quarantinedTo} exists`);
    }
    const byName = new Map(record.problems.map((p) => [p.path.split('/').pop()!, p]));
    for (const f of files.filter((f) => f.field !== undefined)) {
      assert.equal(byName.get(f.name)?.field, f.field, `${f.name.slice(0, 40)}: failing field`);
    }
    // Only the valid files are left; reading again finds nothing more to report.
    assert.deepEqual(readdirSync(events).sort(), valid.map((id) => `${id}.json`).sort());
    const again = await store.readChange(CHANGE);
    assert.equal(again.problems.length, 0);
    assert.equal(again.events.length, 50);
    outside.cleanup();
  });

  it('refuses change ids that name a path, and quarantines folders that are not changes', async () => {
    const store = new FileRecordStore(ws.dir);
    for (const bad of ['../../etc', '/abs', 'UPPER', '', 'a/b', '__proto__']) {
      await assert.rejects(store.readChange(bad), /is not a change id/);
      await assert.rejects(store.append(bad, { type: 'change.completed', data: {} }), /is not a change id/);
    }
    const changes = join(ws.dir, '.factory', 'changes');
    mkdirSync(join(changes, 'ok-change', 'events'), { recursive: true });
    mkdirSync(join(changes, 'Not Valid'));
    writeFileSync(join(changes, 'stray.json'), '{}');
    const outside = tempWorkspace('outside');
    symlinkSync(outside.dir, join(changes, 'linked-out'));
    const reported: RecordProblem[] = [];
    const watching = new FileRecordStore(ws.dir, { onProblem: (p) => reported.push(p) });
    assert.deepEqual(await watching.listChangeIds(), ['ok-change']);
    assert.deepEqual(reported.map((p) => p.path).sort(), ['.factory/changes/Not Valid', '.factory/changes/linked-out', '.factory/changes/stray.json']);
    assert.ok(reported.every((p) => p.quarantinedTo));
    outside.cleanup();
  });

  it('refuses a .factory folder that is a symbolic link out of the workspace', async () => {
    const outside = tempWorkspace('outside');
    symlinkSync(outside.dir, join(ws.dir, '.factory'));
    const reported: RecordProblem[] = [];
    const store = new FileRecordStore(ws.dir, { onProblem: (p) => reported.push(p) });
    assert.deepEqual(await store.listChangeIds(), []);
    assert.deepEqual(reported.map((p) => [p.path, p.quarantinedTo]), [['.factory', undefined]]);
    assert.match(reported[0]!.message, /symbolic link/);
    await assert.rejects(store.append('x', { type: 'change.completed', data: {} }), /\.factory is a symbolic link/);
    assert.deepEqual(readdirSync(outside.dir), []);
    outside.cleanup();
  });
});
