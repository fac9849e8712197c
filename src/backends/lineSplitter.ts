// Splits a byte stream into lines with bounded memory: a partial line is held only
// up to `maxLineBytes`; beyond that its head is emitted (flagged) and the rest of the
// line is dropped, so one endless line cannot grow memory without bound. Splitting on
// byte 0x0A never cuts a UTF-8 character (0x0A never occurs inside one).
//
// Hot path (issue #22): a line that lies whole in one chunk is decoded straight from
// that chunk, its CR dropped by byte before decoding, with no copy; only a line that
// spans chunks is copied, once per piece, and joined once.

export interface LineSplitterOptions {
  maxLineBytes: number;
  /**
   * `bytes`: the line's length in bytes as received (without its CR/LF), so no one
   * re-encodes it to count; they are `source[start, start + bytes)`, valid only during the call.
   */
  onLine(line: string, cut: boolean, bytes: number, source: Buffer, start: number): void;
  /**
   * After a cut line ends (its newline, or the end of the stream): the last `keepTailBytes`
   * bytes of its dropped rest (`tail`), and how many dropped bytes came before them. Memory
   * stays bounded: only the tail is held while the rest streams by.
   */
  onCutTail?(tail: Buffer, droppedBytes: number): void;
  keepTailBytes?: number;
}

const LF = 10;
const CR = 13;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private dropping = false;
  /** While dropping: the last bytes of the dropped rest, and how many fell off before them. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private droppedBefore = 0;

  constructor(private readonly options: LineSplitterOptions) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
      if (this.partBytes === 0 && !this.dropping && nl - start <= this.options.maxLineBytes) this.emitWhole(chunk, start, nl);
      else this.take(chunk.subarray(start, nl), true);
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start), false);
  }

  /** Emits the last line if the stream did not end with a newline. */
  end(): void {
    if (this.partBytes > 0 && !this.dropping) this.emit(false);
    if (this.dropping) this.endCut();
    this.parts = [];
    this.partBytes = 0;
    this.dropping = false;
  }

  /** A line's bytes, decoded in place. */
  private emitWhole(chunk: Buffer, start: number, end: number, cut = false): void {
    const stop = end > start && chunk[end - 1] === CR ? end - 1 : end;
    this.options.onLine(chunk.toString('utf8', start, stop), cut, stop - start, chunk, start);
  }

  private take(piece: Buffer, complete: boolean): void {
    if (this.dropping) {
      this.keepTail(piece);
      if (complete) this.endCut();
      return;
    }
    const room = this.options.maxLineBytes - this.partBytes;
    if (piece.length > room) {
      if (room > 0) this.parts.push(Buffer.from(piece.subarray(0, room)));
      this.partBytes += Math.max(0, room);
      this.emit(true);
      this.dropping = true;
      this.keepTail(piece.subarray(Math.max(0, room)));
      if (complete) this.endCut();
      return;
    }
    if (complete) {
      this.parts.push(piece);
      this.partBytes += piece.length;
      this.emit(false);
      return;
    }
    // Copy: the caller may reuse its chunk buffer.
    this.parts.push(Buffer.from(piece));
    this.partBytes += piece.length;
  }

  private keepTail(piece: Buffer): void {
    const keep = this.options.onCutTail ? (this.options.keepTailBytes ?? 0) : 0;
    if (piece.length >= keep) {
      this.droppedBefore += this.tailBytes + piece.length - keep;
      this.tail = keep > 0 ? [Buffer.from(piece.subarray(piece.length - keep))] : [];
      this.tailBytes = keep;
      return;
    }
    this.tail.push(Buffer.from(piece));
    this.tailBytes += piece.length;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= keep && this.tail.length > 1) {
      const first = this.tail.shift() as Buffer;
      this.tailBytes -= first.length;
      this.droppedBefore += first.length;
    }
  }

  private endCut(): void {
    const tail = this.tail.length === 1 ? (this.tail[0] as Buffer) : Buffer.concat(this.tail, this.tailBytes);
    const dropped = this.droppedBefore;
    this.dropping = false;
    this.tail = [];
    this.tailBytes = 0;
    this.droppedBefore = 0;
    this.options.onCutTail?.(tail, dropped);
  }

  private emit(cut: boolean): void {
    const joined = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    this.emitWhole(joined, 0, joined.length, cut);
  }
}
