// Known secret values never reach a transcript or a recorded command. Values are
// matched as they are and as they appear inside a JSON string (escaped), because
// most agents print JSON lines.

export const REDACTED = '[REDACTED]';
const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;
/** Shorter values would redact ordinary words; real keys are long. */
const MIN_SECRET_LENGTH = 8;

/** Secret-looking values of an environment (API keys and tokens passed to the agent). */
export function secretsFromEnv(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && typeof value === 'string' && value.length >= MIN_SECRET_LENGTH)
    .map(([, value]) => value as string);
}

export class Redactor {
  private readonly needles: string[];
  /**
   * One scan for any needle (issue #22): most lines hold none, and one pass of a regex
   * over the line is cheaper than one `includes` per needle. Only a line it finds
   * something in goes through the replacement loop.
   */
  private readonly anyNeedle: RegExp | undefined;
  /** The longest needle, minus one: how much a chunked stream must hold back. */
  readonly holdBack: number;

  constructor(secrets: Iterable<string>) {
    const set = new Set<string>();
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
      set.add(secret);
      const escaped = JSON.stringify(secret).slice(1, -1);
      if (escaped !== secret) set.add(escaped);
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.needles = [...set].sort((a, b) => b.length - a.length);
    this.holdBack = Math.max(0, ...this.needles.map((n) => n.length - 1));
    this.anyNeedle = this.needles.length ? new RegExp(this.needles.map(escapeRegExp).join('|')) : undefined;
  }

  get isEmpty(): boolean {
    return this.needles.length === 0;
  }

  redact(text: string): string {
    if (!this.anyNeedle?.test(text)) return text;
    let out = text;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out;
  }

  /**
   * The head of a line cut at the line limit: redacted, and a tail that could be the
   * start of a secret the cut split is redacted too (the rest of the line is never seen).
   */
  redactCut(text: string): string {
    const out = this.redact(text);
    for (const needle of this.needles) {
      for (let k = Math.min(needle.length - 1, out.length); k > 0; k--) {
        if (out.endsWith(needle.slice(0, k))) return `${out.slice(0, out.length - k)}${REDACTED}`;
      }
    }
    return out;
  }

  /** The tail of a cut line (its start was dropped): redacted, and a head that could be the end of a secret the cut split is redacted too. */
  redactCutStart(text: string): string {
    const out = this.redact(text);
    for (const needle of this.needles) {
      for (let k = Math.min(needle.length - 1, out.length); k > 0; k--) {
        if (out.startsWith(needle.slice(needle.length - k))) return `${REDACTED}${out.slice(k)}`;
      }
    }
    return out;
  }

  redactArgv(argv: readonly string[]): string[] {
    return argv.map((arg) => this.redact(arg));
  }

  /** A redactor for a byte/char stream whose chunks may split a secret. */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }
}

/**
 * Redacts a stream of text chunks: it holds back the tail that could be the start of
 * a secret until the next chunk (or `end()`) shows whether it is.
 */
export class StreamRedactor {
  private pending = '';
  constructor(private readonly redactor: Redactor) {}

  push(chunk: string): string {
    if (this.redactor.isEmpty) return chunk;
    const text = this.redactor.redact(this.pending + chunk);
    const keep = Math.min(this.redactor.holdBack, text.length);
    this.pending = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  end(): string {
    const rest = this.redactor.redact(this.pending);
    this.pending = '';
    return rest;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
