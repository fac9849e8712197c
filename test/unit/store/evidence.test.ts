// Content-addressed evidence: stored once, verifiable, streamed.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync, writeSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EvidenceAlteredError, EvidenceCorruptError, evidenceContent, FileEvidenceStore } from '../../../src/store/evidence';
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
    // Random bytes do not compress: the stored file stays over the whole-read size.
    const big = randomBytes(12 * 1024 * 1024);
    const ref = await store.put(big, { name: 'big.log' });
    assert.equal((await collect(store.open(ref))).length, big.length);
    const file = join(ws.dir, store.pathOf(ref));
    assert.ok(statSync(file).size > 8 * 1024 * 1024);
    const byteAt = (offset: number) => {
      const one = Buffer.alloc(1);
      const readFd = openSync(file, 'r');
      readSync(readFd, one, 0, 1, offset);
      closeSync(readFd);
      return one;
    };
    const flipped = (byte: Buffer) => Buffer.from([byte[0]! ^ 0xff]);
    // Altered before: nothing handed out.
    const original = byteAt(5_000_000);
    const fd = openSync(file, 'r+');
    writeSync(fd, flipped(original), 0, 1, 5_000_000);
    let handedOut = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(ref)) handedOut += (chunk as Buffer).length;
      })(),
      EvidenceAlteredError,
    );
    assert.equal(handedOut, 0);
    // Intact when the stream starts, altered while it is read: the end of the stream is an error.
    writeSync(fd, original, 0, 1, 5_000_000);
    const later = byteAt(11_000_000);
    let altered = false;
    await assert.rejects(
      (async () => {
        for await (const chunk of store.open(ref)) {
          handedOut += (chunk as Buffer).length;
          if (!altered) {
            writeSync(fd, flipped(later), 0, 1, 11_000_000);
            altered = true;
          }
        }
      })(),
      (e: unknown) => e instanceof EvidenceAlteredError && e.actual !== e.expected,
    );
    closeSync(fd);
  });

  describe('stored compressed (issue #22)', () => {
    const transcript = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ stream: 'stdout', line: `{"type":"assistant","n":${i}}` })).join('\n');
    const writeOld = (store: FileEvidenceStore, content: Buffer | string) => {
      const sha256 = createHash('sha256').update(content).digest('hex');
      const file = join(ws.dir, store.pathOf({ sha256 }));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      return { sha256, file };
    };

    it('keeps the gzip of the content, named by the content\'s hash; reads, streams and verifies the content', async () => {
      const store = new FileEvidenceStore(ws.dir);
      const ref = await store.put(transcript, { name: 'transcript.jsonl' });
      assert.equal(ref.sha256, sha(transcript));
      assert.equal(ref.bytes, Buffer.byteLength(transcript));
      const stored = readFileSync(join(ws.dir, store.pathOf(ref)));
      assert.deepEqual([...stored.subarray(0, 2)], [0x1f, 0x8b]);
      assert.equal(stored[9], 255, 'the same file on every OS: the header names none');
      assert.ok(stored.length < ref.bytes / 5, `${stored.length} bytes stored for ${ref.bytes}`);
      assert.equal(gunzipSync(stored).toString('utf8'), transcript);
      assert.equal((await store.read(ref)).toString('utf8'), transcript);
      assert.equal((await collect(store.open(ref))).toString('utf8'), transcript);
      assert.deepEqual(await store.verify(), []);
    });

    it('reads evidence stored before compression, even content that itself starts like gzip; the same content is not stored twice', async () => {
      const store = new FileEvidenceStore(ws.dir);
      const plain = writeOld(store, 'an old log\n');
      const gz = gzipSync(Buffer.from('an archive the agent produced'));
      const oldGz = writeOld(store, gz);
      assert.equal((await store.read(plain)).toString('utf8'), 'an old log\n');
      assert.deepEqual(await store.read(oldGz), gz, 'the .gz itself, not what it holds');
      assert.deepEqual(await collect(store.open(oldGz)), gz);
      assert.deepEqual(await store.verify(), []);
      // Storing the same content again finds the old file intact and leaves it as it is.
      await store.put('an old log\n', { name: 'again.log' });
      assert.equal(readFileSync(plain.file, 'utf8'), 'an old log\n');
      assert.equal(storedFiles(ws.dir).length, 2);
      // And an old file that was altered is still reported as altered.
      writeFileSync(plain.file, 'changed');
      assert.deepEqual((await store.verify([plain])).map((m) => m.problem), ['altered']);
    });

    it('a torn or corrupt compressed file is an error naming the file, on read, stream and verify', async () => {
      const store = new FileEvidenceStore(ws.dir);
      const small = await store.put(transcript, { name: 'transcript.jsonl' });
      const file = join(ws.dir, store.pathOf(small));
      const whole = readFileSync(file);
      writeFileSync(file, whole.subarray(0, whole.length - 20));
      const named = (e: unknown) => e instanceof EvidenceCorruptError && e.path === store.pathOf(small) && e.message.startsWith(store.pathOf(small)) && /does not decompress/.test(e.message);
      await assert.rejects(store.read(small), named);
      await assert.rejects(collect(store.open(small)), named);
      const [mismatch] = await store.verify([small]);
      assert.equal(mismatch?.problem, 'altered');
      assert.match(mismatch?.message ?? '', /does not decompress.*torn or corrupt/);
      // A large one (streamed in two passes) is refused before its first byte.
      const big = await store.put(randomBytes(9 * 1024 * 1024), { name: 'big.bin' });
      const bigFile = join(ws.dir, store.pathOf(big));
      writeFileSync(bigFile, readFileSync(bigFile).subarray(0, 9 * 1024 * 1024 - 1000));
      let handedOut = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of store.open(big)) handedOut += (chunk as Buffer).length;
        })(),
        (e: unknown) => e instanceof EvidenceCorruptError && e.path === store.pathOf(big),
      );
      assert.equal(handedOut, 0);
    });

    it('the content of bytes read from elsewhere (a git tree): gzip or as it is, checked against the hash', async () => {
      const content = Buffer.from(transcript);
      const hash = sha(transcript);
      assert.deepEqual(await evidenceContent(gzipSync(content), hash, 'main:x'), content);
      assert.deepEqual(await evidenceContent(content, hash, 'main:x'), content);
      await assert.rejects(evidenceContent(Buffer.from('other'), hash, 'main:x'), (e: unknown) => e instanceof EvidenceAlteredError && e.path === 'main:x');
      await assert.rejects(evidenceContent(gzipSync(content).subarray(0, 30), hash, 'main:x'), EvidenceCorruptError);
    });
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
    // Stored compressed (the chunks are mostly zeros), still named by the content's hash.
    assert.ok(statSync(join(ws.dir, '.factory', 'evidence', ref.sha256.slice(0, 2), ref.sha256.slice(2))).size < ref.bytes / 10);
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
