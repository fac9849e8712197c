// One unreadable change never empties the list, and every problem says what it is:
// a folder the user may not read (a real EACCES), a file where a folder belongs, an
// event nested too deep (not "invalid JSON"), a file cut short (where it ends).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { FileRecordStore, type RecordProblem } from '../../../src/store/recordStore';
import { MAX_JSON_DEPTH, describeJsonError, jsonDepthExceeds, jsonErrorOffset, parseJsonSafely, JsonTooDeepError } from '../../../src/core/json';
import { tempWorkspace } from './helpers';

const ulid = monotonicFactory();
const NOBODY = 65534;

/** Runs readRecord.ts as `uid`, so permission bits apply (root ignores them). */
function readAs(uid: number, workspace: string, cacheDir: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'readRecord.ts'), workspace, cacheDir], {
      uid,
      gid: uid,
      cwd: join(__dirname, '..', '..', '..'),
      env: { ...process.env, HOME: cacheDir, TSX_TSCONFIG_PATH: join(__dirname, '..', '..', '..', 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

function chmodTree(dir: string, dirMode: number, fileMode: number): void {
  chmodSync(dir, dirMode);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(abs, dirMode, fileMode);
    else if (entry.isFile()) chmodSync(abs, fileMode);
  }
}

describe('store: unreadable changes and truthful problems', function () {
  this.timeout(60_000);
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('unreadable')));
  afterEach(() => {
    chmodTree(ws.dir, 0o755, 0o644);
    ws.cleanup();
  });

  it('a change folder the user may not read (EACCES) is reported with its path; the other changes still list', async function () {
    const store = new FileRecordStore(ws.dir);
    await store.loadPipeline();
    await store.append('readable-one', { type: 'change.created', data: { title: 'Readable one' } });
    await store.append('locked-change', { type: 'change.created', data: { title: 'Locked' } });
    await store.append('readable-two', { type: 'change.created', data: { title: 'Readable two' } });
    // Another user must be able to reach the workspace; the locked change's folder is closed to everyone.
    chmodTree(ws.dir, 0o755, 0o644);
    for (let d = ws.dir; d !== '/' && d !== tmpdir(); d = join(d, '..')) if ((statSync(d).mode & 0o005) !== 0o005) chmodSync(d, statSync(d).mode | 0o005);
    chmodSync(join(ws.dir, '.factory', 'changes', 'locked-change', 'events'), 0o000);
    const cache = mkdtempSync(join(tmpdir(), 'fc-eacces-cache-'));
    chmodSync(cache, 0o777);
    try {
      let result: { code: number | null; out: string; err: string };
      if (process.getuid?.() === 0) {
        // Root reads anything: run the reader as nobody, for whom the bits are real.
        result = await readAs(NOBODY, ws.dir, cache);
      } else if (process.getuid) {
        result = await readAs(process.getuid(), ws.dir, cache);
      } else {
        this.skip(); // Windows: no POSIX permission bits to deny with.
        return;
      }
      assert.equal(result.code, 0, result.err);
      const seen = JSON.parse(result.out) as { uid: number; ids: string[]; summaries: Array<[string, string, number]>; problems: Array<[string, string]>; events: Array<[string, number]> };
      assert.notEqual(seen.uid, 0, 'the reader ran as a user the permission bits apply to');
      assert.deepEqual(seen.ids, ['locked-change', 'readable-one', 'readable-two']);
      assert.deepEqual(seen.summaries.filter((s) => s[2] > 0).map((s) => s[1]), ['Readable one', 'Readable two']);
      const locked = seen.problems.find((p) => p[0] === '.factory/changes/locked-change/events');
      assert.ok(locked, JSON.stringify(seen.problems));
      assert.match(locked[1], /permission denied \(EACCES\)/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('a file where a folder belongs (changes/<id>, its events/) is reported and set aside; the rest lists', async () => {
    const store = new FileRecordStore(ws.dir);
    await store.append('fine', { type: 'change.created', data: { title: 'Fine' } });
    writeFileSync(join(ws.dir, '.factory', 'changes', 'a-file'), 'not a folder');
    mkdirSync(join(ws.dir, '.factory', 'changes', 'events-file'));
    writeFileSync(join(ws.dir, '.factory', 'changes', 'events-file', 'events'), 'not a folder either');
    const problems: RecordProblem[] = [];
    const reader = new FileRecordStore(ws.dir, { onProblem: (p) => problems.push(p) });
    const load = await reader.summaries();
    assert.deepEqual(load.summaries.filter((s) => s.eventCount > 0).map((s) => s.title), ['Fine']);
    assert.deepEqual(problems.map((p) => [p.path, p.message, p.quarantinedTo]).sort(), [
      ['.factory/changes/a-file', 'is not a change folder', '.factory/quarantine/changes/a-file'],
      ['.factory/changes/events-file/events', 'is not a folder', '.factory/quarantine/changes/events-file/events'],
    ]);
  });

  it('an event nested too deeply says so, and is not called invalid JSON; nothing overflows the stack', async () => {
    const events = join(ws.dir, '.factory', 'changes', 'deep', 'events');
    mkdirSync(events, { recursive: true });
    const good = ulid();
    writeFileSync(join(events, `${good}.json`), JSON.stringify({ v: 1, id: good, change: 'deep', type: 'change.created', at: '2026-01-01T00:00:00Z', data: { title: 'Deep' } }));
    const deepId = ulid();
    const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    // Deep enough that copying, zod or JSON.stringify of it would overflow the stack.
    writeFileSync(join(events, `${deepId}.json`), `{"v":1,"id":"${deepId}","change":"deep","type":"change.created","at":"2026-01-01T00:00:00Z","data":{"title":"x","extra":${nest(200_000)}}}`);
    const escapedId = ulid();
    // The slow path (an escape in the text) is checked the same way.
    writeFileSync(join(events, `${escapedId}.json`), `{"v":1,"id":"${escapedId}","change":"deep","type":"change.created","at":"2026-01-01T00:00:00Z","data":{"title":"\\u0041","extra":${nest(MAX_JSON_DEPTH + 1)}}}`);
    const record = await new FileRecordStore(ws.dir).readChange('deep');
    assert.deepEqual(record.events.map((e) => e.id), [good]);
    assert.equal(record.problems.length, 2);
    for (const p of record.problems) {
      assert.match(p.message, /is valid JSON but it is nested more than 64 levels deep/);
      assert.doesNotMatch(p.message, /not valid JSON/);
    }
  });

  it('a truncated or broken event says where it ends or breaks', async () => {
    const events = join(ws.dir, '.factory', 'changes', 'cut', 'events');
    mkdirSync(events, { recursive: true });
    const cut = ulid();
    writeFileSync(join(events, `${cut}.json`), `{\n  "v": 1,\n  "id": "${cut}",\n  "data": {"title": "ab`);
    const broken = ulid();
    writeFileSync(join(events, `${broken}.json`), '{\n  "v": 1,\n  "id": }');
    const empty = ulid();
    writeFileSync(join(events, `${empty}.json`), '');
    const record = await new FileRecordStore(ws.dir).readChange('cut');
    const byName = new Map(record.problems.map((p) => [p.path.split('/').pop(), p.message]));
    assert.match(byName.get(`${cut}.json`)!, /cut short at line 4, column 24 \(after \d+ bytes\)/);
    assert.match(byName.get(`${broken}.json`)!, /line 3/);
    assert.match(byName.get(`${empty}.json`)!, /empty/);
  });

  it('json: depth is counted outside strings only, and the limit is exact', () => {
    assert.equal(jsonDepthExceeds(`${'['.repeat(64)}${']'.repeat(64)}`), false);
    assert.equal(jsonDepthExceeds(`${'['.repeat(65)}${']'.repeat(65)}`), true);
    assert.equal(jsonDepthExceeds(JSON.stringify({ s: '['.repeat(1000), t: '\\"[[[[' })), false, 'brackets inside strings do not count');
    assert.equal(jsonDepthExceeds(`[${'{"a":'.repeat(70)}1${'}'.repeat(70)}]`), true);
    assert.throws(() => parseJsonSafely(`${'['.repeat(100)}${']'.repeat(100)}`), JsonTooDeepError);
    assert.match(describeJsonError('[1,2', new SyntaxError("Expected ',' or ']' after array element in JSON at position 4")), /cut short at line 1, column 5/);
    assert.match(describeJsonError('{\n "a": }', new SyntaxError('Unexpected token')), /unexpected "}" at line 2, column 7/);
  });

  it('json: the error offset agrees with JSON.parse on what is valid (random texts)', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const parts = ['{', '}', '[', ']', ',', ':', '"a"', '"\\u00e9"', '"\\q"', '1', '-0.5e+3', '01', 'true', 'nul', 'null', ' ', '\n', '"x', '\u0001'];
    for (let round = 0; round < 5000; round++) {
      let text = '';
      const length = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < length; k++) text += parts[Math.floor(rand() * parts.length)];
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const offset = jsonErrorOffset(text);
      assert.equal(offset === undefined, valid, JSON.stringify(text));
      if (offset !== undefined) assert.ok(offset >= 0 && offset <= text.length);
    }
  });
});
