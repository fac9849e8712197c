// What a transcript panel shows, as a fold over the agent's typed events: text and
// reasoning streamed in pieces become one entry per message, a tool call's start and
// finish one entry (with the command it ran), file edits links, usage and session the
// header. Each event turns into small ops (add / append / replace / trim) that the
// host applies to its own copy and sends to the webview, which applies the same ops
// with the same code — so a panel rebuilt from a snapshot and one fed op by op agree.
// The live view and the replay of a recorded transcript share all of this.
// Pure: no I/O.
import { posix } from 'node:path';
import type { AgentEvent, AttemptResult } from './agentEvents';
import { TranscriptEntries, boundTail } from './transcriptEntries';
import type { TranscriptEntry, TranscriptHeader, TranscriptOp, UsageSummary } from './transcriptProtocol';

/** Entries a panel keeps; older ones are summarized as "… N earlier events". */
export const DEFAULT_MAX_ENTRIES = 3_000;
const MAX_FIELD = 20_000;

function bound(text: string, max = MAX_FIELD): string {
  return text.length <= max ? text : `${text.slice(0, max - 40)}… [${text.length - max + 40} more characters]`;
}

/** A tool call's input as readable JSON; never throws (cycles, BigInt). */
export function describeInput(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  if (typeof input === 'string') return bound(input);
  try {
    return bound(JSON.stringify(input, null, 2) ?? String(input));
  } catch {
    return bound(String(input));
  }
}

/** The workspace-relative form of a path an agent reported, or undefined when it is outside. */
export function workspaceRelative(raw: string, workspaceRoot: string | undefined): string | undefined {
  if (!workspaceRoot) return undefined;
  const root = posix.normalize(workspaceRoot.replace(/\\/g, '/')).replace(/\/+$/, '');
  const value = raw.replace(/\\/g, '/');
  const absolute = posix.isAbsolute(value) ? posix.normalize(value) : posix.join(root, value);
  const rel = posix.relative(root, absolute);
  if (!rel || rel === '..' || rel.startsWith('../') || posix.isAbsolute(rel)) return undefined;
  return rel;
}

export interface TranscriptModelOptions {
  maxEntries?: number;
  /** The attempt's cwd (POSIX): file edits inside it get a workspace-relative path and a diff link. */
  workspaceRoot?: string;
}

/** One panel's state on the host: the header, the entries, and the fold from events to ops. */
export class TranscriptModel {
  readonly state = new TranscriptEntries();
  header: TranscriptHeader;
  /** Set when the header changed since the host last sent it. */
  headerChanged = false;
  private readonly maxEntries: number;
  private nextId = 0;
  /** Tool call id → entry id. */
  private readonly tools = new Map<string, string>();
  private usage: UsageSummary | undefined;

  constructor(
    header: TranscriptHeader,
    private readonly options: TranscriptModelOptions = {},
  ) {
    this.header = header;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  get entries(): readonly TranscriptEntry[] {
    return this.state.entries;
  }

  /** File edits the panel shows, by the path the agent reported: what `openDiff` may ask for. */
  fileEntry(path: string): Extract<TranscriptEntry, { kind: 'file' }> | undefined {
    for (let i = this.state.entries.length - 1; i >= 0; i--) {
      const entry = this.state.entries[i]!;
      if (entry.kind === 'file' && entry.path === path) return entry;
    }
    return undefined;
  }

  setHeader(patch: Partial<TranscriptHeader>): void {
    this.header = { ...this.header, ...patch };
    for (const key of Object.keys(patch) as (keyof TranscriptHeader)[]) if (patch[key] === undefined) delete this.header[key];
    this.headerChanged = true;
  }

  /** Folds one agent event in; returns the ops that bring a copy of the entries up to date. */
  apply(event: AgentEvent): TranscriptOp[] {
    const ops: TranscriptOp[] = [];
    const emit = (op: TranscriptOp) => {
      this.state.apply(op);
      ops.push(op);
    };
    const add = (entry: TranscriptEntry) => emit({ op: 'add', entry });
    const id = () => `e${++this.nextId}`;
    const last = this.state.entries[this.state.entries.length - 1];

    switch (event.kind) {
      case 'text':
      case 'reasoning': {
        if (!event.text) break;
        if (last && last.kind === event.kind && last.messageId === event.messageId) {
          emit({ op: 'append', id: last.id, text: event.text, events: 1 });
        } else {
          const bounded = boundTail(event.text);
          add({ kind: event.kind, id: id(), events: 1, text: bounded.text, ...(event.messageId ? { messageId: bound(event.messageId, 200) } : {}), ...(bounded.cut ? { cut: bounded.cut } : {}) });
        }
        break;
      }
      case 'toolStarted': {
        const input = describeInput(event.input);
        const entryId = id();
        this.tools.set(event.id, entryId);
        add({
          kind: 'tool',
          id: entryId,
          events: 1,
          toolId: bound(event.id),
          name: bound(event.name),
          ...(event.toolKind ? { toolKind: event.toolKind } : {}),
          ...(input !== undefined ? { input } : {}),
          ...(event.paths?.length ? { paths: event.paths.slice(0, 100).map((p) => bound(p)) } : {}),
          status: 'running',
        });
        break;
      }
      case 'toolFinished': {
        const existing = this.tool(event.id);
        const output = event.output !== undefined ? bound(event.output) : undefined;
        if (existing) {
          emit({ op: 'replace', entry: { ...existing, events: existing.events + 1, status: event.status, ...(output !== undefined ? { output } : {}), name: existing.name || bound(event.name ?? '') } });
        } else {
          add({ kind: 'tool', id: id(), events: 1, toolId: bound(event.id), name: bound(event.name ?? 'tool'), status: event.status, ...(output !== undefined ? { output } : {}) });
        }
        break;
      }
      case 'fileEdited': {
        const relativePath = workspaceRelative(event.path, this.options.workspaceRoot);
        add({ kind: 'file', id: id(), events: 1, path: bound(event.path), ...(relativePath ? { relativePath: bound(relativePath) } : {}), change: event.change });
        break;
      }
      case 'commandRun': {
        const command = {
          command: bound(event.command),
          ...(event.argv ? { argv: event.argv.slice(0, 200).map((a) => bound(a)) } : {}),
          ...(event.exitCode !== undefined ? { exitCode: event.exitCode } : {}),
          ...(event.outputExcerpt !== undefined ? { output: bound(event.outputExcerpt) } : {}),
        };
        const existing = event.toolCallId ? this.tool(event.toolCallId) : undefined;
        if (existing) emit({ op: 'replace', entry: { ...existing, events: existing.events + 1, command } });
        else add({ kind: 'command', id: id(), events: 1, ...command });
        break;
      }
      case 'usage':
        this.addUsage(event);
        break;
      case 'session':
        this.setHeader({ sessionId: bound(event.sessionId, 200), ...(event.model ? { model: bound(event.model, 200) } : {}) });
        break;
      case 'turn':
        if ((this.header.turns ?? 0) < event.index) this.setHeader({ turns: event.index });
        break;
      case 'plan': {
        const entries = event.entries.slice(0, 500).map((e) => ({ text: bound(e.text), status: e.status }));
        // Agents resend the whole plan as it progresses: update it while it is the latest entry.
        if (last?.kind === 'plan') emit({ op: 'replace', entry: { ...last, events: last.events + 1, entries } });
        else add({ kind: 'plan', id: id(), events: 1, entries });
        break;
      }
      case 'permission':
        add({ kind: 'permission', id: id(), events: 1, title: bound(event.title), decision: event.decision });
        break;
      case 'error':
        add({ kind: 'error', id: id(), events: 1, message: bound(event.message), fatal: event.fatal });
        break;
      case 'diagnostic':
        add({ kind: 'diagnostic', id: id(), events: 1, level: event.level, message: bound(event.message), ...(event.line !== undefined ? { line: bound(event.line) } : {}) });
        break;
      case 'result': {
        const text = event.text !== undefined ? boundTail(event.text).text : undefined;
        add({
          kind: 'result',
          id: id(),
          events: 1,
          success: event.success,
          ...(text ? { text } : {}),
          ...(event.turns !== undefined ? { turns: event.turns } : {}),
          ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
        });
        if (event.turns !== undefined && (this.header.turns ?? 0) < event.turns) this.setHeader({ turns: event.turns });
        break;
      }
      case 'awaitingHuman':
        add({ kind: 'awaitingHuman', id: id(), events: 1, ...(event.instructions !== undefined ? { instructions: bound(event.instructions) } : {}) });
        break;
      default:
        // A kind from a newer backend: shown, not lost.
        add({ kind: 'diagnostic', id: id(), events: 1, level: 'info', message: bound(`event ${JSON.stringify((event as { kind?: unknown }).kind)}`) });
    }
    this.trimTo(this.maxEntries, emit);
    return ops;
  }

  /** A line the runner recorded (`meta`) or the agent printed on stderr; consecutive lines of one stream form one entry. */
  log(stream: 'meta' | 'stderr', line: string): TranscriptOp[] {
    const ops: TranscriptOp[] = [];
    const emit = (op: TranscriptOp) => {
      this.state.apply(op);
      ops.push(op);
    };
    const last = this.state.entries[this.state.entries.length - 1];
    const text = `${line}\n`;
    if (last?.kind === 'log' && last.stream === stream) emit({ op: 'append', id: last.id, text: boundTail(text).text, events: 1 });
    else {
      const bounded = boundTail(text);
      emit({ op: 'add', entry: { kind: 'log', id: `e${++this.nextId}`, events: 1, stream, text: bounded.text, ...(bounded.cut ? { cut: bounded.cut } : {}) } });
    }
    this.trimTo(this.maxEntries, emit);
    return ops;
  }

  /** The attempt ended: outcome, reason, duration and the final usage go to the header. */
  finish(result: Pick<AttemptResult, 'outcome' | 'reason' | 'durationMs' | 'usage'>): void {
    const usage = result.usage ?? {};
    const tokens = usage.inputTokens !== undefined || usage.outputTokens !== undefined || usage.costUsd !== undefined;
    if (tokens) {
      this.usage = {
        inputTokens: usage.inputTokens ?? this.usage?.inputTokens ?? 0,
        outputTokens: usage.outputTokens ?? this.usage?.outputTokens ?? 0,
        cachedTokens: usage.cachedTokens ?? this.usage?.cachedTokens ?? 0,
        ...(usage.costUsd !== undefined ? { costUsd: usage.costUsd, ...(usage.costSource ? { costSource: usage.costSource } : {}) } : {}),
      };
    }
    this.setHeader({
      status: 'finished',
      outcome: result.outcome,
      durationMs: result.durationMs,
      elapsedMs: undefined,
      ...(result.reason ? { reason: bound(result.reason) } : {}),
      ...(this.usage ? { usage: this.usage } : {}),
      ...(usage.turns !== undefined && usage.turns > (this.header.turns ?? 0) ? { turns: usage.turns } : {}),
    });
  }

  private tool(toolId: string): Extract<TranscriptEntry, { kind: 'tool' }> | undefined {
    const entryId = this.tools.get(toolId);
    const entry = entryId ? this.state.get(entryId) : undefined;
    return entry?.kind === 'tool' ? entry : undefined;
  }

  private addUsage(event: Extract<AgentEvent, { kind: 'usage' }>): void {
    const previous = this.usage;
    // Backends publish running totals; a delta (a parser's own figure) adds up.
    const usage: UsageSummary =
      event.scope === 'delta' && previous
        ? { inputTokens: previous.inputTokens + event.inputTokens, outputTokens: previous.outputTokens + event.outputTokens, cachedTokens: previous.cachedTokens + event.cachedTokens }
        : { inputTokens: event.inputTokens, outputTokens: event.outputTokens, cachedTokens: event.cachedTokens };
    if (event.costUsd !== undefined) Object.assign(usage, { costUsd: event.costUsd, ...(event.costSource ? { costSource: event.costSource } : {}) });
    else if (previous?.costUsd !== undefined && event.scope === 'delta') Object.assign(usage, { costUsd: previous.costUsd, ...(previous.costSource ? { costSource: previous.costSource } : {}) });
    this.usage = usage;
    this.setHeader({ usage, ...(event.model ? { model: bound(event.model, 200) } : {}) });
  }

  private trimTo(max: number, emit: (op: TranscriptOp) => void): void {
    const excess = this.state.entries.length - max;
    if (excess <= 0) return;
    // Trim in chunks, so a long run sends one trim per chunk rather than one per event.
    const count = Math.min(this.state.entries.length - 1, excess + Math.floor(max / 10));
    let events = 0;
    for (let i = 0; i < count; i++) events += this.state.entries[i]!.events;
    emit({ op: 'trim', count, events });
    this.tools.forEach((entryId, toolId) => {
      if (this.state.indexOf(entryId) < 0) this.tools.delete(toolId);
    });
  }
}
