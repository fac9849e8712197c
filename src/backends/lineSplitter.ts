// Splits a byte stream into lines with bounded memory: a partial line is held only
// up to `maxLineBytes`; beyond that its head is emitted (flagged) and the rest of the
// line is dropped, so one endless line cannot grow memory without bound. Splitting on
// byte 0x0A never cuts a UTF-8 character (0x0A never occurs inside one).

export interface LineSplitterOptions {
  maxLineBytes: number;
  onLine(line: string, cut: boolean): void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private dropping = false;

  constructor(private readonly options: LineSplitterOptions) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      this.take(chunk.subarray(start, nl), true);
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start), false);
  }

  /** Emits the last line if the stream did not end with a newline. */
  end(): void {
    if (this.partBytes > 0 && !this.dropping) this.emit(false);
    this.parts = [];
    this.partBytes = 0;
    this.dropping = false;
  }

  private take(piece: Buffer, complete: boolean): void {
    if (this.dropping) {
      if (complete) this.dropping = false;
      return;
    }
    const room = this.options.maxLineBytes - this.partBytes;
    if (piece.length > room) {
      if (room > 0) this.parts.push(Buffer.from(piece.subarray(0, room)));
      this.partBytes += Math.max(0, room);
      this.emit(true);
      this.dropping = !complete;
      return;
    }
    if (complete) {
      if (this.partBytes === 0) {
        this.options.onLine(stripCr(piece.toString('utf8')), false);
      } else {
        this.parts.push(piece);
        this.partBytes += piece.length;
        this.emit(false);
      }
      return;
    }
    // Copy: the caller may reuse its chunk buffer.
    this.parts.push(Buffer.from(piece));
    this.partBytes += piece.length;
  }

  private emit(cut: boolean): void {
    const line = Buffer.concat(this.parts, this.partBytes).toString('utf8');
    this.parts = [];
    this.partBytes = 0;
    this.options.onLine(stripCr(line), cut);
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
