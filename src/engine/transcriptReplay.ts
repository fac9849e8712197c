// Replays a stored transcript into the typed events the live run streamed. The engine
// stores each attempt's transcript as evidence: JSONL of `{stream, line}` (or, for a
// JSON line, `{stream, json}`) entries, read by decodeTranscriptLine, in which the
// stdout lines are the agent's raw output. Feeding those lines through the
// backend's own parser (and its usage meter) gives back the same events, so a recorded
// attempt renders exactly like a live one. Runner notes (`meta`) and stderr come back
// as log lines; stdin (what the cockpit sent an ACP agent) is left out.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { AgentEvent } from '../core/agentEvents';
import { isEvent, type EvidenceRef, type FactoryEvent } from '../core/events';
import type { AttemptState } from '../core/fold';
import { mcpStatusOf, mcpToolCall } from '../core/mcpSummary';
import { decodeTranscriptLine } from '../core/transcriptLines';
import { backendEntry } from '../backends/catalog';
import type { LineParser } from '../backends/parsers/common';
import { createPlainTextParser } from '../backends/parsers/plainText';
import type { PriceTable } from '../backends/types';
import { DEFAULT_PRICES, UsageMeter } from '../backends/usageMeter';

export type ReplayItem = { kind: 'event'; event: AgentEvent } | { kind: 'log'; stream: 'meta' | 'stderr'; line: string };

export interface ReplayOptions {
  /** The backend id the attempt ran with: it picks the parser. */
  backend: string;
  /** The attempt's working directory (the workspace root). */
  cwd: string;
  /** The attempt's model, for cost estimates from tokens. */
  model?: string;
  prices?: PriceTable;
}

/** How the stdout of each backend is read back: the table's replay parser; unknown backends as plain text. */
export function replayParserFor(backend: string, cwd: string): LineParser {
  return backendEntry(backend)?.replayParser?.(cwd) ?? createPlainTextParser({ cwd });
}


/**
 * Turns the lines of a stored transcript (JSONL) into events and log lines, in order.
 * A line that is not a `{stream, line}` entry (damaged, or torn at the end) becomes a
 * diagnostic naming its line number; nothing stops the replay.
 */
export async function* replayTranscript(lines: AsyncIterable<string> | Iterable<string>, options: ReplayOptions): AsyncGenerator<ReplayItem> {
  const parser = replayParserFor(options.backend, options.cwd);
  const meter = new UsageMeter(options.prices ?? DEFAULT_PRICES, options.model);
  // Parsers report the tokens of each model call; the live backend publishes running totals, and so does the replay.
  const publish = (event: AgentEvent): ReplayItem => {
    if (event.kind === 'usage') return { kind: 'event', event: meter.add(event) };
    if (event.kind === 'session') meter.setModel(event.model);
    return { kind: 'event', event };
  };
  let number = 0;
  for await (const raw of lines) {
    number++;
    if (!raw.trim()) continue;
    const entry = decodeTranscriptLine(raw);
    if (!entry) {
      yield { kind: 'event', event: { kind: 'diagnostic', level: 'warn', message: `transcript line ${number} is not a {stream, line} entry; it was skipped`, line: raw.slice(0, 300) } };
      continue;
    }
    if (entry.stream === 'stdout') for (const event of parser.parse(entry.line)) yield publish(event);
    else if (entry.stream === 'meta' || entry.stream === 'stderr') yield { kind: 'log', stream: entry.stream, line: entry.line };
  }
  for (const event of parser.end()) yield publish(event);
}

/** The lines of a stored file, streamed (a transcript can be large). */
export function linesOf(stream: Readable): AsyncIterable<string> {
  return createInterface({ input: stream, crlfDelay: Infinity });
}

/** What the transcript view needs of a recorded attempt; an `AttemptState` from the fold fits. */
export interface RecordedAttempt {
  id: string;
  stageId: string;
  backend: string;
  model?: string;
  number?: number;
  prompt?: string;
  transcript?: EvidenceRef;
  startTree?: string;
  /** The tree when the attempt ended: with the start tree, the attempt's own diff. */
  endTree?: string;
  startedAt?: string;
  outcome?: string;
  reason?: string;
  durationMs?: number;
  usage?: { inputTokens?: number; outputTokens?: number; cachedTokens?: number; costUsd?: number; costSource?: 'agent' | 'estimate'; turns?: number };
  /** The factory's MCP tools its agent called, and what it said about the server (#18). */
  mcpTools?: string[];
  mcpStatus?: AttemptState['mcpStatus'];
}

/** Finds an attempt in a change's events (its start and its finish, in either order). */
export function findRecordedAttempt(events: readonly FactoryEvent[], attemptId: string): RecordedAttempt | undefined {
  let found: RecordedAttempt | undefined;
  const tools = new Set<string>();
  const ensure = (stageId: string, backend = 'unknown'): RecordedAttempt => (found ??= { id: attemptId, stageId, backend });
  for (const event of events) {
    if (isEvent(event, 'attempt.started') && event.data.attemptId === attemptId) {
      const attempt = ensure(event.data.stageId, event.data.backend);
      Object.assign(attempt, {
        backend: event.data.backend,
        startedAt: event.at,
        ...(event.data.model ? { model: event.data.model } : {}),
        ...(event.data.number !== undefined ? { number: event.data.number } : {}),
        ...(event.data.prompt !== undefined ? { prompt: event.data.prompt } : {}),
        ...(event.data.start?.tree ? { startTree: event.data.start.tree } : {}),
      });
    } else if (isEvent(event, 'attempt.finished') && event.data.attemptId === attemptId) {
      const attempt = ensure(event.data.stageId);
      Object.assign(attempt, {
        outcome: event.data.outcome,
        ...(event.data.reason ? { reason: event.data.reason } : {}),
        ...(event.data.durationMs !== undefined ? { durationMs: event.data.durationMs } : {}),
        ...(event.data.usage ? { usage: event.data.usage } : {}),
        ...(event.data.transcript ? { transcript: event.data.transcript } : {}),
        ...(event.data.end?.tree ? { endTree: event.data.end.tree } : {}),
        ...(event.data.mcpStatus ? { mcpStatus: mcpStatusOf(event.data.mcpStatus) } : {}),
      });
    } else if (mcpToolCall(event)?.attemptId === attemptId) {
      tools.add(mcpToolCall(event)!.tool);
    }
  }
  if (found && tools.size) found.mcpTools = [...tools];
  return found;
}
