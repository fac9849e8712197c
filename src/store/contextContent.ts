// Where context items keep their content. An item's snapshot is stored as
// content-addressed evidence (sha256), so any pack version can be rebuilt from the
// record and a reviewer can check that what an agent got was not altered since.
import type { EvidenceRef } from '../core/events';
import { sha256Hex } from '../core/contextPack';
import { EvidenceAlteredError } from './evidence';

/** The port the context pack codes against. */
export interface ContentStore {
  put(content: string | Uint8Array, meta: { name: string; mediaType?: string }): Promise<EvidenceRef>;
  /** The stored bytes; throws when they are missing or no longer match their hash. */
  get(ref: Pick<EvidenceRef, 'sha256'>): Promise<Uint8Array>;
}

/** The part of the evidence store (store/evidence.ts, FileEvidenceStore) this needs. */
export interface EvidenceBytes {
  put(source: string | Uint8Array, meta: { name: string; mediaType?: string }): Promise<EvidenceRef>;
  read(ref: Pick<EvidenceRef, 'sha256'>): Promise<Uint8Array>;
}

export class ContentAlteredError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    options?: { cause?: unknown },
  ) {
    super(`Stored context content ${expected} was altered: its bytes now hash to ${actual}.`, options);
    this.name = 'ContentAlteredError';
  }
}

/** Context content kept in the evidence store, checked against its hash on every read. */
export class EvidenceContentStore implements ContentStore {
  constructor(private readonly evidence: EvidenceBytes) {}

  put(content: string | Uint8Array, meta: { name: string; mediaType?: string }): Promise<EvidenceRef> {
    return this.evidence.put(content, meta);
  }

  async get(ref: Pick<EvidenceRef, 'sha256'>): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await this.evidence.read(ref);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`Stored context content ${ref.sha256} is missing from the evidence store.`, { cause: error });
      // The evidence store checks the hash itself; keep this port's own error for callers.
      if (error instanceof EvidenceAlteredError) throw new ContentAlteredError(error.expected, error.actual, { cause: error });
      throw error;
    }
    // Items are small (a file, a note); checking each read keeps a tampered snapshot out of a prompt.
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) throw new ContentAlteredError(ref.sha256, actual);
    return bytes;
  }
}

export async function getText(store: ContentStore, ref: Pick<EvidenceRef, 'sha256'>): Promise<string> {
  // ignoreBOM keeps a leading U+FEFF: content comes back exactly as it was stored.
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(await store.get(ref));
}
