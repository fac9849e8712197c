// Evidence (transcripts, logs, test reports, screenshots) is stored by content:
// `.factory/evidence/<first 2 hex>/<remaining 62 hex>` of its sha256. The same bytes
// stored twice take the space once, an event refers to them by hash (EvidenceRef), and
// anyone can check that the bytes still match the hash.
//
// Writing streams: the bytes go to a temp file in `.factory/evidence/.tmp/` while they
// are hashed, are fsynced, and the file is renamed to its hash name. Nothing is held
// whole in memory, and a process killed midway leaves only a temp file (git-ignored).
//
// Stored compressed (issue #22: the record is committed, so its size is the team's
// cost): new files hold the gzip of the content, written as a stream; the name is still
// the sha256 of the CONTENT, so the same content dedupes however it was stored. Files
// written before are the content itself and still read: a file is gzip when it starts
// with the gzip magic and decompresses to its hash; otherwise (an old file, maybe a
// .gz stored as it was) its own bytes must hash to it. A compressed file that cannot be
// decompressed (torn, truncated, garbage appended) is an EvidenceCorruptError naming it.
//
// Reading checks: every read (read, open) hashes the bytes and compares them with the
// hash they are stored under before any of them is used. Altered bytes are an
// EvidenceAlteredError naming the file and both hashes, never content. A stream of a
// large file is hashed once before its first byte is handed out, and again as it is
// handed out; a file changed in between fails at its end. Every folder and file is
// reached through RecordFs: a link anywhere in `.factory/evidence/…` is refused, never
// followed. In Restricted Mode (mayWrite false) put refuses; reads work.
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { EvidenceRefSchema, type EvidenceRef } from '../core/events';
import { fsyncDirectory, tempNameFor } from './atomicFile';
import { describeIoError, isMissing, O_NOFOLLOW, RecordFs, RecordReadOnlyError, UnsafeRecordPathError } from './recordFs';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export type EvidenceSource = string | Uint8Array | AsyncIterable<Uint8Array | string> | Readable;

export interface EvidenceMeta {
  /** A display name, e.g. `transcript.jsonl` or `junit.xml`. */
  name: string;
  mediaType?: string;
}

export interface EvidenceMismatch {
  sha256: string;
  /** Workspace-relative path of the stored file. */
  path: string;
  /** What the bytes hash to now, or why they could not be read. */
  actual?: string;
  problem: 'altered' | 'missing' | 'unreadable' | 'misnamed';
  message: string;
}

export interface EvidencePort {
  /** Stores the bytes; throws RecordReadOnlyError when the record may not be written (Restricted Mode). */
  put(source: EvidenceSource, meta: EvidenceMeta): Promise<EvidenceRef>;
  has(ref: Pick<EvidenceRef, 'sha256'>): Promise<boolean>;
  /**
   * A stream of the stored bytes, checked against their hash: it errors with
   * EvidenceAlteredError before the first byte when they were altered (and at its end
   * when they change while being read), with an ENOENT error when missing, and with
   * UnsafeRecordPathError when a link stands in the way.
   */
  open(ref: Pick<EvidenceRef, 'sha256'>): Readable;
  /** The stored bytes, checked against their hash (same errors as open). */
  read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Buffer>;
  /** The workspace-relative path of the stored bytes. */
  pathOf(ref: Pick<EvidenceRef, 'sha256'>): string;
  /** Checks the given refs, or every stored file when none are given. */
  verify(refs?: readonly Pick<EvidenceRef, 'sha256'>[]): Promise<EvidenceMismatch[]>;
  /** The names of every stored file (its hash, if nobody renamed it), sorted; a check of "all N files" counts these. */
  list(): Promise<string[]>;
}

export interface EvidenceStoreOptions {
  /** False in Restricted Mode: put refuses and nothing is written. Reads always work. Default: always true. */
  mayWrite?: () => boolean;
}

/** The stored bytes no longer hash to the hash they are stored (and referred to) under. */
export class EvidenceAlteredError extends Error {
  constructor(
    /** Workspace-relative path of the stored file. */
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${path}: the evidence was altered: it is stored as sha256 ${expected} but its bytes now hash to ${actual}; it is not used.`);
    this.name = 'EvidenceAlteredError';
  }
}

/** The stored bytes are a compressed stream that does not decompress: torn, truncated or corrupted. */
export class EvidenceCorruptError extends EvidenceAlteredError {
  constructor(path: string, expected: string, actual: string, readonly problem: string) {
    super(path, expected, actual);
    this.message = `${path}: the evidence was altered: it is stored compressed, but the file does not decompress (${problem}), so it is torn or corrupt; it is not used.`;
    this.name = 'EvidenceCorruptError';
  }
}

// zlib and stream/promises on first use: a command that only reads the record
// (`factory-cockpit status`) never stores or opens evidence, and would load them for nothing.
/* eslint-disable @typescript-eslint/no-require-imports -- synchronous, on first use */
const zlib = () => require('node:zlib') as typeof import('node:zlib');
const streamPromises = () => require('node:stream/promises') as typeof import('node:stream/promises');
/* eslint-enable @typescript-eslint/no-require-imports */
const gunzip = (buffer: Buffer, options: import('node:zlib').ZlibOptions) => promisify(zlib().gunzip)(buffer, options);
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const GZIP_OS_BYTE = 9;
/** Level 6, zlib's default: JSON transcripts shrink ~10×; higher levels cost far more time for little. */
const GZIP_LEVEL = 6;

/** Files up to this size (stored and content) are read whole and hashed once; larger ones are streamed in two passes. */
const WHOLE_READ_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

export class FileEvidenceStore implements EvidencePort {
  readonly evidenceDir: string;
  private readonly fsx: RecordFs;
  private readonly mayWrite: () => boolean;

  constructor(
    readonly workspaceRoot: string,
    factoryDir = path.join(workspaceRoot, '.factory'),
    options: EvidenceStoreOptions = {},
  ) {
    this.evidenceDir = path.join(factoryDir, 'evidence');
    this.fsx = new RecordFs(workspaceRoot);
    this.mayWrite = options.mayWrite ?? (() => true);
  }

  async put(source: EvidenceSource, meta: EvidenceMeta): Promise<EvidenceRef> {
    if (!this.mayWrite()) throw new RecordReadOnlyError(`store evidence "${meta.name.slice(0, 80)}"`);
    const tempDir = path.join(this.evidenceDir, '.tmp');
    await this.fsx.ensureDir(tempDir);
    const temp = path.join(tempDir, tempNameFor('evidence'));
    const hash = createHash('sha256');
    let bytes = 0;
    const handle = await fs.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY | O_NOFOLLOW, 0o644);
    try {
      try {
        // The content is hashed as it goes into gzip; only the compressed bytes reach the file.
        const hashed = async function* () {
          for await (const chunk of chunksOf(source)) {
            hash.update(chunk);
            bytes += chunk.byteLength;
            yield chunk;
          }
        };
        let header = true;
        await streamPromises().pipeline(hashed, zlib().createGzip({ level: GZIP_LEVEL }), async (compressed: AsyncIterable<Buffer>) => {
          for await (const chunk of compressed) {
            // The header's OS byte says where zlib was built: "unknown" everywhere, so two
            // machines storing the same content write the same file (no add/add conflict).
            if (header && chunk.length > GZIP_OS_BYTE) chunk[GZIP_OS_BYTE] = 255;
            header = false;
            await handle.write(chunk);
          }
        });
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
      const final = this.absolutePath(sha256);
      await this.fsx.ensureDir(path.dirname(final));
      if (await this.isIntact(final, sha256)) {
        await fs.rm(temp, { force: true });
      } else {
        // New bytes, or a stored copy that was altered (or a link planted in its place,
        // which rename replaces rather than follows): the fresh bytes take the name.
        const there = await fs.lstat(final).catch(() => undefined);
        if (there?.isDirectory()) throw new UnsafeRecordPathError(this.pathOf({ sha256 }), 'is a folder where evidence belongs');
        await fs.rename(temp, final);
        await fsyncDirectory(path.dirname(final));
      }
      return EvidenceRefSchema.parse({ sha256, name: meta.name, bytes, ...(meta.mediaType ? { mediaType: meta.mediaType } : {}) });
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  async has(ref: Pick<EvidenceRef, 'sha256'>): Promise<boolean> {
    try {
      return (await this.fsx.inspect(this.absolutePath(ref.sha256), 'file')) !== undefined;
    } catch {
      return false;
    }
  }

  open(ref: Pick<EvidenceRef, 'sha256'>): Readable {
    // A bad hash throws here, at once, as before; everything else errors the stream.
    const file = this.absolutePath(ref.sha256);
    return Readable.from(this.verifiedChunks(file, ref.sha256), { objectMode: false });
  }

  async read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Buffer> {
    const file = this.absolutePath(ref.sha256);
    const handle = await this.openStored(file, ref.sha256);
    try {
      return await evidenceContent(await handle.readFile(), ref.sha256, this.pathOf(ref));
    } finally {
      await handle.close();
    }
  }

  pathOf(ref: Pick<EvidenceRef, 'sha256'>): string {
    return path.relative(this.workspaceRoot, this.absolutePath(ref.sha256)).split(path.sep).join('/');
  }

  async verify(refs?: readonly Pick<EvidenceRef, 'sha256'>[]): Promise<EvidenceMismatch[]> {
    const mismatches: EvidenceMismatch[] = [];
    let hashes: string[];
    if (refs) hashes = [...new Set(refs.map((r) => r.sha256))];
    else {
      const scan = await this.scan();
      hashes = scan.hashes;
      mismatches.push(...scan.refused);
    }
    for (const expected of hashes) {
      if (!SHA256_HEX.test(expected)) {
        mismatches.push({ sha256: expected, path: '', problem: 'misnamed', message: `"${expected.slice(0, 80)}" is not a sha256 hash` });
        continue;
      }
      const file = this.absolutePath(expected);
      const rel = this.pathOf({ sha256: expected });
      let actual: string;
      try {
        actual = (await this.checkStored(file, expected)).actual;
      } catch (error) {
        mismatches.push(
          error instanceof EvidenceCorruptError
            ? { sha256: expected, path: rel, actual: error.actual, problem: 'altered', message: error.message }
            : isMissing(error)
            ? { sha256: expected, path: rel, problem: 'missing', message: `${rel}: evidence ${expected} is missing` }
            : error instanceof UnsafeRecordPathError
              ? { sha256: expected, path: error.relPath, problem: 'unreadable', message: `${error.relPath} ${error.reason}; evidence ${expected} is not read through it` }
              : { sha256: expected, path: rel, problem: 'unreadable', message: `${rel}: ${describeIoError(error)}` },
        );
        continue;
      }
      if (actual !== expected) {
        mismatches.push({ sha256: expected, path: rel, actual, problem: 'altered', message: `${rel}: the bytes were altered (they hash to ${actual})` });
      }
    }
    return mismatches;
  }

  private absolutePath(sha256: string): string {
    // The hash comes from the record: only 64 hex digits may become a path.
    if (!SHA256_HEX.test(sha256)) throw new Error(`Evidence hash "${String(sha256).slice(0, 80)}" is not 64 lowercase hex digits.`);
    return path.join(this.evidenceDir, sha256.slice(0, 2), sha256.slice(2));
  }

  private async isIntact(file: string, sha256: string): Promise<boolean> {
    try {
      return (await this.checkStored(file, sha256)).actual === sha256;
    } catch {
      return false;
    }
  }

  /** Opens a stored file through RecordFs; a missing one is an ENOENT error naming it. */
  private async openStored(file: string, sha256: string): Promise<fs.FileHandle> {
    const handle = await this.fsx.open(file);
    if (handle) return handle;
    const rel = this.pathOf({ sha256 });
    throw Object.assign(new Error(`${rel}: evidence ${sha256} is missing`), { code: 'ENOENT', path: rel });
  }

  /** What the stored file's content hashes to, and whether it is stored compressed (see checkHandle). */
  private async checkStored(file: string, sha256: string): Promise<StoredCheck> {
    const handle = await this.openStored(file, sha256);
    try {
      return await checkHandle(handle, sha256, this.pathOf({ sha256 }));
    } finally {
      await handle.close();
    }
  }

  private async *verifiedChunks(file: string, sha256: string): AsyncGenerator<Buffer> {
    const handle = await this.openStored(file, sha256);
    const rel = this.pathOf({ sha256 });
    try {
      const { size } = await handle.stat();
      if (size <= WHOLE_READ_BYTES) {
        // Small on disk: decompressed whole when its content is small too (a bomb is not held: the cap stops it).
        const content = await evidenceContent(await handle.readFile(), sha256, rel, WHOLE_READ_BYTES).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
          throw error;
        });
        if (content) {
          for (let offset = 0; offset < content.length; offset += CHUNK_BYTES) yield content.subarray(offset, offset + CHUNK_BYTES);
          return;
        }
      }
      // Large: check it all before handing out a byte, then hash again what is handed out.
      const { compressed } = await checkHandle(handle, sha256, rel);
      const hash = createHash('sha256');
      for await (const chunk of compressed ? gunzipped(chunksOfHandle(handle), rel, sha256) : chunksOfHandle(handle)) {
        hash.update(chunk);
        yield chunk;
      }
      const after = hash.digest('hex');
      if (after !== sha256) throw new EvidenceAlteredError(rel, sha256, after);
    } finally {
      await handle.close();
    }
  }

  /** Every stored file, named as a hash; misnamed files show up as mismatches. */
  async list(): Promise<string[]> {
    return (await this.scan()).hashes;
  }

  /** The stored names, and the folders and files refused on the way (links, files where a folder belongs). */
  private async scan(): Promise<{ hashes: string[]; refused: EvidenceMismatch[] }> {
    const refused: EvidenceMismatch[] = [];
    const refuse = (error: unknown, fallbackPath: string) => {
      const where = error instanceof UnsafeRecordPathError ? error.relPath : fallbackPath;
      refused.push({ sha256: '', path: where, problem: 'unreadable', message: error instanceof UnsafeRecordPathError ? `${error.message} No evidence is read through it.` : `${where}: ${describeIoError(error)}` });
    };
    let fanout: string[];
    try {
      fanout = ((await this.fsx.listDir(this.evidenceDir)) ?? []).map((d) => d.name);
    } catch (error) {
      refuse(error, this.fsx.relative(this.evidenceDir));
      return { hashes: [], refused };
    }
    const hashes: string[] = [];
    for (const prefix of fanout.filter((n) => /^[0-9a-f]{2}$/.test(n)).sort()) {
      const dir = path.join(this.evidenceDir, prefix);
      let names: string[];
      try {
        names = ((await this.fsx.listDir(dir)) ?? []).map((d) => d.name);
      } catch (error) {
        refuse(error, this.fsx.relative(dir));
        continue;
      }
      for (const name of names.sort()) hashes.push(`${prefix}${name}`);
    }
    return { hashes, refused };
  }
}

async function hashHandle(handle: fs.FileHandle): Promise<string> {
  return hashChunks(chunksOfHandle(handle));
}

async function hashChunks(chunks: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

function startsWithGzipMagic(bytes: Uint8Array): boolean {
  return GZIP_MAGIC.every((byte, i) => bytes[i] === byte);
}

function zlibProblem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The content of stored evidence bytes (`where` names them in errors), checked against
 * `sha256`: gzip (the current form) or the content itself (files stored before
 * compression). Used by the store and by readers of evidence from git trees.
 * `maxContentBytes`: beyond it, decompression stops with ERR_BUFFER_TOO_LARGE.
 */
export async function evidenceContent(stored: Buffer, sha256: string, where: string, maxContentBytes?: number): Promise<Buffer> {
  const hashOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  if (!startsWithGzipMagic(stored)) {
    const actual = hashOf(stored);
    if (actual !== sha256) throw new EvidenceAlteredError(where, sha256, actual);
    return stored;
  }
  let content: Buffer | undefined;
  let problem: string | undefined;
  try {
    content = await gunzip(stored, maxContentBytes !== undefined ? { maxOutputLength: maxContentBytes } : {});
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw error;
    problem = zlibProblem(error);
  }
  if (content && hashOf(content) === sha256) return content;
  // Not (or not intact) gzip of the content: an old file whose own bytes start like gzip?
  const raw = hashOf(stored);
  if (raw === sha256) return stored;
  if (problem !== undefined) throw new EvidenceCorruptError(where, sha256, raw, problem);
  throw new EvidenceAlteredError(where, sha256, hashOf(content as Buffer));
}

interface StoredCheck {
  /** What the content hashes to (equal to the expected hash when intact). */
  actual: string;
  compressed: boolean;
}

/** Streams the whole file once (twice for an old file that only looks like gzip) to learn its content hash and form. */
async function checkHandle(handle: fs.FileHandle, sha256: string, where: string): Promise<StoredCheck> {
  const head = Buffer.alloc(GZIP_MAGIC.length);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  if (bytesRead < head.length || !startsWithGzipMagic(head)) return { actual: await hashHandle(handle), compressed: false };
  let actual: string | undefined;
  let problem: string | undefined;
  try {
    actual = await hashChunks(gunzipped(chunksOfHandle(handle), where, sha256));
  } catch (error) {
    if (!(error instanceof EvidenceCorruptError)) throw error;
    problem = error.problem;
  }
  if (actual === sha256) return { actual, compressed: true };
  const raw = await hashHandle(handle);
  if (raw === sha256) return { actual: raw, compressed: false };
  if (problem !== undefined) throw new EvidenceCorruptError(where, sha256, raw, problem);
  return { actual: actual as string, compressed: true };
}

/** The decompressed chunks of a gzip byte stream; a stream that does not decompress is an EvidenceCorruptError. */
async function* gunzipped(chunks: AsyncIterable<Buffer>, where: string, sha256: string): AsyncGenerator<Buffer> {
  const source = Readable.from(chunks, { objectMode: false });
  const inflate = zlib().createGunzip();
  source.on('error', (error) => inflate.destroy(error));
  source.pipe(inflate);
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new EvidenceCorruptError(where, sha256, '(not computed)', zlibProblem(error));
    throw error;
  } finally {
    source.destroy();
    inflate.destroy();
  }
}

/** The bytes of an open file from its start, in chunks (positional reads: the handle can be read again). */
async function* chunksOfHandle(handle: fs.FileHandle): AsyncGenerator<Buffer> {
  let position = 0;
  for (;;) {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === CHUNK_BYTES ? buffer : buffer.subarray(0, bytesRead);
  }
}

async function* chunksOf(source: EvidenceSource): AsyncIterable<Uint8Array> {
  if (typeof source === 'string') {
    yield Buffer.from(source, 'utf8');
    return;
  }
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  }
}
