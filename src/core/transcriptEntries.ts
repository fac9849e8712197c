// The entries of a transcript panel and how ops change them. The host's model and the
// webview apply ops with this same code, so both copies agree. Pure and free of Node
// imports: the browser bundle uses it.
import { MAX_ENTRY_TEXT, type TranscriptEntry, type TranscriptOp } from './transcriptProtocol';

/** The entries and what was dropped from their head; the host and the webview each hold one. */
export class TranscriptEntries {
  entries: TranscriptEntry[] = [];
  dropped = { entries: 0, events: 0 };

  /** Index of the entry with this id, searching from the end (updates hit recent entries). */
  indexOf(id: string): number {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.id === id) return i;
    return -1;
  }

  get(id: string): TranscriptEntry | undefined {
    const index = this.indexOf(id);
    return index < 0 ? undefined : this.entries[index];
  }

  /** Applies one op. Entries are replaced, never mutated, so a renderer can compare by identity. */
  apply(op: TranscriptOp): void {
    switch (op.op) {
      case 'add':
        this.entries.push(op.entry);
        return;
      case 'replace': {
        const index = this.indexOf(op.entry.id);
        if (index >= 0) this.entries[index] = op.entry;
        return;
      }
      case 'append': {
        const index = this.indexOf(op.id);
        const entry = this.entries[index];
        if (!entry || (entry.kind !== 'text' && entry.kind !== 'reasoning' && entry.kind !== 'log')) return;
        const bounded = boundTail(entry.text + op.text);
        const cut = (entry.cut ?? 0) + bounded.cut;
        this.entries[index] = { ...entry, text: bounded.text, events: entry.events + op.events, ...(cut ? { cut } : {}) };
        return;
      }
      case 'trim': {
        const removed = this.entries.splice(0, op.count);
        this.dropped = { entries: this.dropped.entries + removed.length, events: this.dropped.events + op.events };
        return;
      }
    }
  }
}

/** Keeps the last MAX_ENTRY_TEXT characters; says how many were cut. */
export function boundTail(text: string, max = MAX_ENTRY_TEXT): { text: string; cut: number } {
  return text.length <= max ? { text, cut: 0 } : { text: text.slice(text.length - max), cut: text.length - max };
}

/** Merges consecutive appends to one entry, so a burst of streamed text is one op (each stays within the protocol's bound). */
export function coalesceOps(ops: readonly TranscriptOp[]): TranscriptOp[] {
  const out: TranscriptOp[] = [];
  for (const op of ops) {
    const last = out[out.length - 1];
    if (op.op === 'append' && last?.op === 'append' && last.id === op.id && last.text.length + op.text.length <= MAX_ENTRY_TEXT) {
      out[out.length - 1] = { ...last, text: last.text + op.text, events: last.events + op.events };
    } else out.push(op);
  }
  return out;
}
