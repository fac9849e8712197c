// Content-addressed evidence: stored once, verifiable, streamed.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, writeFileSync, writeSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EvidenceAlteredError, FileEvidenceStore } from '../../../src/store/evidence';
import { RecordReadOnlyError } from '../../../src/store/recordFs';
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

  it('every read checks the hash: altered bytes are an EvidenceAlteredError (path, expected, actual), never content', async () => {
    const store = new FileEvidenceStore(ws.dir);
    const ref = await store.put('{"kind":"text","text":"the real transcript"}\n', { name: 'transcript.jsonl' });
    assert.equal((await store.read(ref)).toString(), '{"kind":"text","text":"the real transcript"}\n');
    assert.equal((await collect(store.open(ref))).toString(), '{"kind":"text","text":"the real transcript"}\n');
    const forged = '{"kind":"text","text":"all tests passed"}\n';
    writeFileSync(join(ws.dir, store.pathOf(ref)), forged);
    const isAltered = (error: unknown) =>
      error instanceof EvidenceAlteredError && error.path === store.pathOf(ref) && error.expected === ref.sha256 && error.actual === sha(forged) && /altered/.test(error.message);
    await assert.rejects(store.read(ref), isAltered);
    // The stream fails before handing out a single byte of the forged content.
    const seen: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(ref)) seen.push(chunk as Buffer);
      })(),
      isAltered,
    );
    assert.deepEqual(seen, []);
    rmSync(join(ws.dir, store.pathOf(ref)));
    await assert.rejects(store.read(ref), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' && /missing/.test((e as Error).message));
    await assert.rejects(collect(store.open(ref)), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
  });

  it('a large stream is checked before its first byte, and fails at its end if the file changes while it is read', async () => {
    const store = new FileEvidenceStore(ws.dir);
    const big = Buffer.alloc(12 * 1024 * 1024, 'a');
    const ref = await store.put(big, { name: 'big.log' });
    assert.equal((await collect(store.open(ref))).length, big.length);
    const file = join(ws.dir, store.pathOf(ref));
    // Altered before: nothing handed out.
    const fd = openSync(file, 'r+');
    writeSync(fd, 'b', 5_000_000);
    let handedOut = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(ref)) handedOut += (chunk as Buffer).length;
      })(),
      EvidenceAlteredError,
    );
    assert.equal(handedOut, 0);
    // Intact when the stream starts, altered while it is read: the end of the stream is an error.
    writeSync(fd, 'a', 5_000_000);
    let altered = false;
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(ref)) {
          handedOut += (chunk as Buffer).length;
          if (!altered) {
            writeSync(fd, 'c', 11_000_000);
            altered = true;
          }
        }
      })(),
      (e: unknown) => e instanceof EvidenceAlteredError && e.actual !== e.expected,
    );
    closeSync(fd);
  });

  it('Restricted Mode: put refuses and writes nothing; reads still work', async () => {
    const writable = new FileEvidenceStore(ws.dir);
    const ref = await writable.put('kept', { name: 'kept.txt' });
    const readOnly = new FileEvidenceStore(ws.dir, undefined, { mayWrite: () => false });
    await assert.rejects(readOnly.put('new', { name: 'new.txt' }), RecordReadOnlyError);
    assert.deepEqual(storedFiles(ws.dir), [`${ref.sha256.slice(0, 2)}/${ref.sha256.slice(2)}`]);
    assert.equal((await readOnly.read(ref)).toString(), 'kept');
    assert.deepEqual(await readOnly.verify(), []);
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

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
