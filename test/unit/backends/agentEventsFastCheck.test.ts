// parseAgentEvent's fast check is compiled from the zod schemas, which stay the source
// of truth (issue #22): on every event the parsers make from the captured transcripts,
// one of each kind written by hand, and mutations of them (fields missing, of the wrong
// type, out of range, unknown values, extra fields), parseAgentEvent answers exactly
// what zod alone answers, and the fast check never vouches for an event zod would
// reject or change.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fastAgentEventCheck, parseAgentEvent, parseAgentEventWithSchema, type AgentEvent } from '../../../src/core/agentEvents';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { createCodexParser } from '../../../src/backends/parsers/codex';
import { createDroidParser } from '../../../src/backends/parsers/droid';
import { createGeminiParser } from '../../../src/backends/parsers/gemini';
import type { ParserFactory } from '../../../src/backends/parsers/common';
import { FIXTURES } from './helpers';

const parsers: [string, ParserFactory][] = [
  ['claude-code', createClaudeCodeParser],
  ['codex', createCodexParser],
  ['gemini', createGeminiParser],
  ['droid', createDroidParser],
];

function parsedEvents(): AgentEvent[] {
  const events: AgentEvent[] = [];
  for (const [tool, factory] of parsers) {
    for (const file of readdirSync(path.join(FIXTURES, tool)).filter((f) => f.endsWith('.jsonl'))) {
      const parser = factory({ cwd: '/workspace/project' });
      for (const line of readFileSync(path.join(FIXTURES, tool, file), 'utf8').split('\n')) events.push(...parser.parse(line));
      events.push(...parser.end());
    }
  }
  return events;
}

/** The kinds the parsers above do not make, with their optional fields. */
const HAND_WRITTEN: AgentEvent[] = [
  { kind: 'plan', entries: [{ text: 'read', status: 'completed' }, { text: 'write', status: 'pending' }] },
  { kind: 'awaitingHuman', instructions: 'Review it.' },
  { kind: 'turn', index: 3 },
  { kind: 'usage', scope: 'total', inputTokens: 10, outputTokens: 2, cachedTokens: 1, costUsd: 0.01, costSource: 'agent', model: 'm' },
];

const STRANGE_VALUES: unknown[] = [undefined, null, 42, -1, 1.5, Number.NaN, 'x', '', true, {}, [], [1], { text: 1 }];

function mutations(event: Record<string, unknown>): unknown[] {
  const out: unknown[] = [{ ...event, extra: { nested: true } }, { ...event, kind: 'notAKind' }, { ...event, kind: 7 }];
  for (const key of Object.keys(event)) {
    const { [key]: _dropped, ...without } = event;
    out.push(without);
    for (const value of STRANGE_VALUES) out.push({ ...event, [key]: value });
    const value = event[key];
    if (Array.isArray(value) && value.length) {
      out.push({ ...event, [key]: [...value, 'x'] });
      const first = value[0] as unknown;
      if (first && typeof first === 'object') for (const inner of Object.keys(first)) out.push({ ...event, [key]: [{ ...(first as object), [inner]: 9 }] });
    }
  }
  return out;
}

describe('agent event validation: the fast check agrees with zod (issue #22)', () => {
  const valid = [...parsedEvents(), ...HAND_WRITTEN];

  it('vouches for the events the parsers make, which zod accepts and returns unchanged', () => {
    const kinds = new Set<string>();
    for (const event of valid) {
      const reference = parseAgentEventWithSchema(event);
      assert.ok(reference.ok, JSON.stringify(event));
      assert.deepEqual(reference.event, event);
      // The compiler leaves a nullable field to zod (commandRun.exitCode): zod decides those.
      if (event.kind !== 'commandRun') assert.ok(fastAgentEventCheck(event), `fast check vouches for ${JSON.stringify(event)}`);
      kinds.add(event.kind);
    }
    assert.ok(kinds.size >= 12, `kinds covered: ${[...kinds].join(', ')}`);
  });

  it('answers what zod answers for every mutation, and vouches only for what zod keeps unchanged', () => {
    let vouched = 0;
    let rejected = 0;
    for (const event of valid) {
      for (const raw of [...mutations(event as Record<string, unknown>), null, 'text', [event]]) {
        const reference = parseAgentEventWithSchema(raw);
        assert.deepEqual(parseAgentEvent(raw), reference, JSON.stringify(raw));
        if (fastAgentEventCheck(raw)) {
          vouched++;
          assert.ok(reference.ok, `vouched for what zod rejects: ${JSON.stringify(raw)}`);
          assert.deepEqual(reference.event, raw, `vouched for what zod changes: ${JSON.stringify(raw)}`);
        }
        if (!reference.ok) rejected++;
      }
    }
    assert.ok(vouched > 100 && rejected > 100, `${vouched} vouched, ${rejected} rejected`);
  });

  it('a plan entry without a status gets zod\'s default, not the fast way', () => {
    const raw = { kind: 'plan', entries: [{ text: 'read' }] };
    assert.equal(fastAgentEventCheck(raw), false);
    assert.deepEqual(parseAgentEvent(raw), { ok: true, event: { kind: 'plan', entries: [{ text: 'read', status: 'pending' }] } });
  });
});
