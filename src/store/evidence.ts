// Evidence (transcripts, logs, test reports, screenshots) is stored by content:
// `.factory/evidence/<first 2 hex>/<remaining 62 hex>` of its sha256. The same bytes
// stored twice take the space once, an event refers to them by hash (EvidenceRef), and
// anyone can check that the bytes still match the hash.
//
// Writing streams: the bytes go to a temp file in `.factory/evidence/.tmp/` while they
// are hashed, are fsynced, and the file is renamed to its hash name. Nothing is held
// whole in memory, and a process killed midway leaves only a temp file (git-ignored).
import { createReadStream, promises as fs, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { EvidenceRefSchema, type EvidenceRef } from '../core/events';
import { fsyncDirectory, tempNameFor } from './atomicFile';

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
  put(source: EvidenceSource, meta: EvidenceMeta): Promise<EvidenceRef>;
  has(ref: Pick<EvidenceRef, 'sha256'>): Promise<boolean>;
  /** A stream of the stored bytes (checked with verify, not on every read). */
  open(ref: Pick<EvidenceRef, 'sha256'>): Readable;
  read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Buffer>;
  /** The workspace-relative path of the stored bytes. */
  pathOf(ref: Pick<EvidenceRef, 'sha256'>): string;
  /** Checks the given refs, or every stored file when none are given. */
  verify(refs?: readonly Pick<EvidenceRef, 'sha256'>[]): Promise<EvidenceMismatch[]>;
  /** The names of every stored file (its hash, if nobody renamed it), sorted; a check of "all N files" counts these. */
  list(): Promise<string[]>;
}

export class FileEvidenceStore implements EvidencePort {
  readonly evidenceDir: string;

  constructor(
    readonly workspaceRoot: string,
    factoryDir = path.join(workspaceRoot, '.factory'),
  ) {
    this.evidenceDir = path.join(factoryDir, 'evidence');
  }

  async put(source: EvidenceSource, meta: EvidenceMeta): Promise<EvidenceRef> {
    const tempDir = path.join(this.evidenceDir, '.tmp');
    await fs.mkdir(tempDir, { recursive: true });
    const temp = path.join(tempDir, tempNameFor('evidence'));
    const hash = createHash('sha256');
    let bytes = 0;
    const handle = await fs.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
    try {
      try {
        for await (const chunk of chunksOf(source)) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
      const final = this.absolutePath(sha256);
      await fs.mkdir(path.dirname(final), { recursive: true });
      if (await this.isIntact(final, sha256)) {
        await fs.rm(temp, { force: true });
      } else {
        // New bytes, or a stored copy that was altered: the fresh bytes replace it.
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
      return (await fs.stat(this.absolutePath(ref.sha256))).isFile();
    } catch {
      return false;
    }
  }

  open(ref: Pick<EvidenceRef, 'sha256'>): Readable {
    return createReadStream(this.absolutePath(ref.sha256));
  }

  async read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Buffer> {
    return fs.readFile(this.absolutePath(ref.sha256));
  }

  pathOf(ref: Pick<EvidenceRef, 'sha256'>): string {
    return path.relative(this.workspaceRoot, this.absolutePath(ref.sha256)).split(path.sep).join('/');
  }

  async verify(refs?: readonly Pick<EvidenceRef, 'sha256'>[]): Promise<EvidenceMismatch[]> {
    const hashes = refs ? [...new Set(refs.map((r) => r.sha256))] : await this.list();
    const mismatches: EvidenceMismatch[] = [];
    for (const expected of hashes) {
      if (!SHA256_HEX.test(expected)) {
        mismatches.push({ sha256: expected, path: '', problem: 'misnamed', message: `"${expected.slice(0, 80)}" is not a sha256 hash` });
        continue;
      }
      const file = this.absolutePath(expected);
      const rel = this.pathOf({ sha256: expected });
      let actual: string;
      try {
        actual = await hashFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        mismatches.push(
          code === 'ENOENT'
            ? { sha256: expected, path: rel, problem: 'missing', message: `${rel}: evidence ${expected} is missing` }
            : { sha256: expected, path: rel, problem: 'unreadable', message: `${rel}: cannot be read: ${(error as Error).message}` },
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
      return (await hashFile(file)) === sha256;
    } catch {
      return false;
    }
  }

  /** Every stored file, named as a hash; misnamed files show up as mismatches. */
  async list(): Promise<string[]> {
    let fanout: string[];
    try {
      fanout = await fs.readdir(this.evidenceDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const hashes: string[] = [];
    for (const prefix of fanout.filter((n) => /^[0-9a-f]{2}$/.test(n)).sort()) {
      const names = await fs.readdir(path.join(this.evidenceDir, prefix));
      for (const name of names.sort()) hashes.push(`${prefix}${name}`);
    }
    return hashes;
  }
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
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
