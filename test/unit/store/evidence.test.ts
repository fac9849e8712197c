// Content-addressed evidence: stored once, verifiable, streamed.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileEvidenceStore } from '../../../src/store/evidence';
import { FileRecordStore } from '../../../src/store/recordStore';
import { collectLines, exited, spawnTs, tempWorkspace } from './helpers';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function storedFiles(dir: string): string[] {
  const root = join(dir, '.factory', 'evidence');
  return readdirSync(root)
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) => readdirSync(join(root, d)).map((f) => `${d}/${f}`));
}

describe('store: evidence', function () {
  this.timeout(60_000);
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('evidence')));
  afterEach(() => ws.cleanup());

  it('stores the same bytes once, under .factory/evidence/ab/cdef…', async () => {
    const store = new FileRecordStore(ws.dir).evidence;
    const a = await store.put('the log\n', { name: 'run.log', mediaType: 'text/plain' });
    const b = await store.put(Buffer.from('the log\n'), { name: 'again.log' });
    const c = await store.put((async function* () { yield 'the '; yield Buffer.from('log\n'); })(), { name: 'streamed.log' });
    assert.equal(a.sha256, sha('the log\n'));
    assert.equal(b.sha256, a.sha256);
    assert.equal(c.sha256, a.sha256);
    assert.deepEqual({ name: a.name, bytes: a.bytes, mediaType: a.mediaType }, { name: 'run.log', bytes: 8, mediaType: 'text/plain' });
    assert.deepEqual(storedFiles(ws.dir), [`${a.sha256.slice(0, 2)}/${a.sha256.slice(2)}`]);
    assert.equal(store.pathOf(a), `.factory/evidence/${a.sha256.slice(0, 2)}/${a.sha256.slice(2)}`);
    assert.equal((await store.read(a)).toString('utf8'), 'the log\n');
    assert.deepEqual(readdirSync(join(ws.dir, '.factory', 'evidence', '.tmp')), [], 'no temp file left');
    assert.deepEqual(await store.verify(), []);
  });

  it('reports tampered and missing evidence, and storing the bytes again heals it', async () => {
    const store = new FileEvidenceStore(ws.dir);
    const kept = await store.put('kept', { name: 'kept.txt' });
    const altered = await store.put('original', { name: 'a.txt' });
    const gone = await store.put('gone', { name: 'g.txt' });
    writeFileSync(join(ws.dir, store.pathOf(altered)), 'tampered');
    rmSync(join(ws.dir, store.pathOf(gone)));
    const all = await store.verify();
    assert.deepEqual(all.map((m) => [m.sha256, m.problem]), [[altered.sha256, 'altered']]);
    assert.equal(all[0]?.actual, sha('tampered'));
    assert.match(all[0]!.message, /altered/);
    const byRef = await store.verify([kept, altered, gone]);
    assert.deepEqual(byRef.map((m) => m.problem).sort(), ['altered', 'missing']);
    await store.put('original', { name: 'a.txt' });
    assert.deepEqual(await store.verify([altered]), []);
  });

  it('refuses a hash from the record that is not 64 hex digits (no path from a hash)', async () => {
    const store = new FileEvidenceStore(ws.dir);
    assert.throws(() => store.pathOf({ sha256: '../../etc/passwd' }), /not 64 lowercase hex/);
    await assert.rejects(store.read({ sha256: `${'a'.repeat(62)}/x` }), /not 64 lowercase hex/);
    assert.equal((await store.verify([{ sha256: '../x' }]))[0]?.problem, 'misnamed');
  });

  it('streams 50 MB to disk with bounded memory (a real process, peak memory measured)', async () => {
    const child = spawnTs(join(__dirname, 'fixtures', 'largeEvidence.ts'), [ws.dir, '50']);
    const out = collectLines(child);
    const { code } = await exited(child);
    assert.equal(code, 0);
    const { ref, growthKb } = JSON.parse(out.lines[0]!) as { ref: { sha256: string; bytes: number }; growthKb: number };
    assert.equal(ref.bytes, 50 * 1024 * 1024);
    assert.equal(statSync(join(ws.dir, '.factory', 'evidence', ref.sha256.slice(0, 2), ref.sha256.slice(2))).size, ref.bytes);
    // Holding the bytes whole would grow memory by more than 50 MB (chunks, then their
    // concatenation); streamed, only garbage not yet collected remains (~30 MB at most,
    // the same for 10 MB or 200 MB).
    assert.ok(growthKb < 40 * 1024, `peak memory grew by ${Math.round(growthKb / 1024)} MB storing 50 MB`);
    assert.deepEqual(await new FileEvidenceStore(ws.dir).verify(), []);
  });
});
