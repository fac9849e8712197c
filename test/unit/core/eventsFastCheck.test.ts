// The fast check in validateEvent is compiled from the zod schemas, which stay the
// source of truth: across thousands of generated events (valid ones of every type, and
// mutations of them: fields missing, of the wrong type, out of range, unknown enum
// values, extra fields), validateEvent answers exactly what zod alone answers, the
// fast check never vouches for an event zod would reject or change, and a rejected
// event gets zod's field and message.
import * as assert from 'node:assert/strict';
import { EventPayloads, fastEventCheck, isFromNewerVersion, KNOWN_EVENT_TYPES, validateEvent, validateEventWithSchemas, type KnownEventType } from '../../../src/core/events';
import { seededRandom } from '../store/helpers';

const ULID_A = '01JAAAAAAAAAAAAAAAAAAAAZZ1';
const ULID_B = '01JAAAAAAAAAAAAAAAAAAAAZZ2';
const SHA = 'd'.repeat(64);
const evidence = { sha256: SHA, name: 'junit.xml', mediaType: 'application/xml', bytes: 1234 };
const tree = { commit: 'a'.repeat(40), tree: 'b'.repeat(40) };

/** A payload of every known type, with most of its optional fields (as a writer of this version could produce). */
const SAMPLES: Record<KnownEventType, Record<string, unknown>> = {
  'change.created': { title: 'Add login', description: 'Longer text.', ticket: 'APP-1', branch: 'factory/add-login' },
  'change.completed': { note: 'done' },
  'stage.ownerChanged': { stageId: 'plan', owner: { backend: 'codex', model: 'gpt', person: 'Ada' } },
  'attempt.started': { stageId: 'plan', attemptId: ULID_A, backend: 'claude-code', model: 'sonnet', prompt: 'Do it.', contextVersion: 'v3', start: tree, checkpoint: 'refs/x', runner: { pid: 42, host: 'box' }, number: 1, trigger: 'run' },
  'attempt.finished': {
    stageId: 'plan',
    attemptId: ULID_A,
    outcome: 'succeeded',
    reason: 'ok',
    summary: 'Did it.',
    usage: { inputTokens: 12000, outputTokens: 900, cachedTokens: 10, costUsd: 0.12, costSource: 'agent', turns: 3 },
    durationMs: 42000,
    end: tree,
    transcript: evidence,
    sessionId: 's-1',
    diff: evidence,
    changedFiles: [{ status: 'M', path: 'src/a.ts' }],
    filesRead: ['src/b.ts'],
    stoppedBy: 'Ada',
    reportedModel: 'sonnet-4',
    agentVersion: '1.2.3',
    failedToolCalls: [{ name: 'write', id: 't1', reason: 'refused' }],
  },
  'attempt.rolledBack': { stageId: 'plan', attemptId: ULID_A, checkpoint: 'refs/x', files: [{ path: 'a.ts', action: 'restored' }], skippedSubmodules: ['lib'] },
  'verification.recorded': {
    stageId: 'implement',
    criterionId: 'tests',
    attemptId: ULID_A,
    outcome: 'passed',
    required: true,
    message: 'all green',
    durationMs: 3000,
    evidence: [evidence],
    verified: { tree: 'c'.repeat(40) },
    kind: 'junit',
    startedAt: '2026-11-20T09:00:00.000Z',
    environment: { os: 'linux' },
    treeChangedDuringRun: false,
    totals: { passed: 3 },
    notes: ['n'],
    command: 'npm test',
    approval: null,
    waitingForApproval: false,
    failureFeedback: 'fix it',
  },
  'stage.approvalRequested': { stageId: 'review', attemptId: ULID_A },
  'review.decided': { stageId: 'review', decision: 'approved', note: 'fine', at: tree },
  'review.hunkDecided': { stageId: 'review', attemptId: ULID_A, path: 'a.ts', hunk: SHA, header: '@@ -1 +1 @@', decision: 'kept', note: 'ok', at: tree },
  'review.commented': { body: 'Why?', stageId: 'review', attemptId: ULID_A, path: 'a.ts', line: 3, side: 'right', tree: 'b'.repeat(40), replyTo: ULID_B },
  'stage.sentBack': { fromStage: 'review', toStage: 'implement', note: 'again', reopens: ULID_A, supersedes: [ULID_B], contextVersion: 'v2' },
  'stage.completedByHand': { stageId: 'plan', note: 'by hand' },
  'handoff.recorded': { fromStage: 'plan', toStage: 'implement', attemptId: ULID_A, contextVersion: 'v4', summary: 'Handing off.', outputs: ['plan.md'], at: tree },
  'context.itemAdded': {
    item: { id: 'i1', kind: 'file', title: 'a.ts', source: { path: 'a.ts', range: { startLine: 1, endLine: 3, startCharacter: 0, endCharacter: 4 }, stageId: 'plan', attemptId: ULID_A, origin: 'user' }, contentHash: SHA, tokens: 10, content: evidence, pinned: false },
    position: 0,
    stageId: 'plan',
  },
  'context.itemRemoved': { itemId: 'i1', stageId: 'plan' },
  'context.itemsReordered': { order: ['i2', 'i1'], stageId: 'plan' },
  'context.itemPinned': { itemId: 'i1', pinned: true, stageId: 'plan' },
  'context.itemRefreshed': { itemId: 'i1', contentHash: SHA, tokens: 11, content: evidence, title: 'a.ts', source: { path: 'a.ts', origin: 'user' }, stageId: 'plan' },
  'context.fetched': { attemptId: ULID_A, stageId: 'plan', contextVersion: 'v3', what: 'pack', tool: 'get_context' },
  'attempt.noted': { attemptId: ULID_A, stageId: 'plan', kind: 'progress', text: 'half way', tool: 'note' },
  'attempt.toolCalled': { attemptId: ULID_A, stageId: 'plan', server: 'factory', tool: 'get_context', ok: true },
  'autonomy.granted': { stageId: 'plan', autonomy: 'auto', owner: 'codex', evidence: { runs: 10 }, note: 'earned' },
  'autonomy.revoked': { stageId: 'plan', autonomy: 'approve', owner: 'codex', evidence: { failures: 3 }, note: 'lost' },
  'lesson.promoted': { lessonId: 'l1', stageId: 'plan', kind: 'convention', text: 'Run the linter.', target: '.factory/conventions.md', examples: [{ changeId: 'c-1', reason: 'lint' }] },
};

function envelope(type: string, data: unknown): Record<string, unknown> {
  return { v: 1, id: ULID_B, change: 'c-1', type, at: '2026-11-20T09:00:00.000Z', by: { name: 'Ada', email: 'ada@example.com' }, data };
}

/** Every field inside `root` (object keys and array indexes), with the object or array holding it. */
function fields(root: unknown): Array<{ holder: Record<string, unknown>; key: string }> {
  if (root === null || typeof root !== 'object') return [];
  const holder = root as Record<string, unknown>;
  return Object.keys(holder).flatMap((key) => [{ holder, key }, ...fields(holder[key])]);
}

/** Every object and array inside `root`, the root included. */
function containers(root: unknown): Array<Record<string, unknown>> {
  if (root === null || typeof root !== 'object') return [];
  return [root as Record<string, unknown>, ...Object.values(root).flatMap(containers)];
}

const ANY_VALUES: unknown[] = [null, 0, 'x', true, [], {}, { a: 1 }, [1]];
/** Values near a field's own kind: out of range, of the wrong format, an unknown enum value. */
const NEAR_VALUES: Record<string, unknown[]> = {
  number: [-1, -0.5, 0, 1.5, Infinity, -Infinity, 2 ** 60, '3'],
  string: ['', 'x', 'X'.repeat(300), 'newerValue', ULID_A.toLowerCase(), `${ULID_A}0`, '2026-13-01T00:00:00Z', '2027-02-29T00:00:00Z', '2028-02-29T00:00:00+01:00', '2026-11-20 09:00:00', 'A'.repeat(64), 7],
  boolean: [0, 'true', null],
  object: [[], null, 'x', {}],
};

/** One mutation of a copy of `event`: a field removed, replaced, added, or set to undefined. */
function mutate(event: Record<string, unknown>, random: () => number): Record<string, unknown> {
  const copy = structuredClone(event);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const kind = random();
  const all = fields(copy);
  if (kind < 0.6 && all.length) {
    const { holder, key } = pick(all);
    if (kind < 0.15 && !Array.isArray(holder)) delete holder[key];
    else if (kind < 0.45) holder[key] = pick(NEAR_VALUES[typeof holder[key]] ?? ANY_VALUES);
    else if (kind < 0.55) holder[key] = pick(ANY_VALUES);
    else holder[key] = undefined;
  } else {
    const target = pick(containers(copy));
    if (Array.isArray(target)) target.push(pick([...ANY_VALUES, ...NEAR_VALUES.string!]));
    else target[pick(['extra', 'fromTheFuture', 'v2Field'])] = pick([...ANY_VALUES, ...NEAR_VALUES.string!]);
  }
  return copy;
}

/** validateEvent and zod alone, on the same input: the same answer, the same message, the same "newer" flag. */
function assertAgrees(event: Record<string, unknown>, tally: { fast: number; rejected: number; newer: number }): void {
  const reference = validateEventWithSchemas(structuredClone(event));
  const fast = fastEventCheck(event);
  const result = validateEvent(event);
  const where = JSON.stringify(event);
  if (fast) {
    tally.fast++;
    assert.ok(reference.ok, `the fast check accepted what zod rejects: ${where}`);
    assert.deepStrictEqual(reference.event, event, `zod would change an event the fast check accepted as it is: ${where}`);
    assert.equal(result.ok && result.event, event, 'the fast path returns the object it was given');
  }
  assert.equal(result.ok, reference.ok, where);
  if (!result.ok && !reference.ok) {
    tally.rejected++;
    assert.deepStrictEqual(result.issue, reference.issue, where);
  }
  if (result.ok && reference.ok) {
    assert.deepStrictEqual(result.event, reference.event, where);
    assert.equal(isFromNewerVersion(result.event), isFromNewerVersion(reference.event), where);
    if (isFromNewerVersion(reference.event)) tally.newer++;
  }
}

describe('validateEvent fast check against the zod schemas', () => {
  it('covers every known event type with a sample', () => {
    assert.deepEqual(Object.keys(SAMPLES).sort(), [...KNOWN_EVENT_TYPES].sort());
  });

  it('vouches for the events a writer of this version produces (defaults filled in), without zod', () => {
    for (const type of KNOWN_EVENT_TYPES) {
      const event = envelope(type, EventPayloads[type].parse(SAMPLES[type]));
      // A context range carries a refinement the fast check leaves to zod.
      const refined = type === 'context.itemAdded';
      assert.equal(fastEventCheck(event), !refined, type);
      assert.ok(validateEvent(event).ok, type);
    }
    assert.ok(fastEventCheck({ ...envelope('mystery.happened', { x: 1 }), extra: { kept: true } }), 'an unknown type keeps its envelope');
    assert.ok(fastEventCheck(envelope('change.created', { title: 'T', newerField: [1, 2] })), 'extra fields are kept');
    assert.ok(fastEventCheck({ ...envelope('change.created', { whatever: 1 }), v: 2 }), 'a newer version is kept unvalidated');
  });

  it('leaves to zod a payload with a default to fill in, and then returns zod\'s output', () => {
    const event = envelope('verification.recorded', { stageId: 'implement', criterionId: 'tests', outcome: 'passed' });
    assert.equal(fastEventCheck(event), false);
    const result = validateEvent(event);
    assert.ok(result.ok);
    assert.deepEqual((result.event.data as { required: boolean; evidence: unknown[] }).required, true);
    assert.deepEqual((result.event.data as { evidence: unknown[] }).evidence, []);
  });

  it('agrees with zod on thousands of generated valid and invalid events', () => {
    const random = seededRandom(20261202);
    const tally = { fast: 0, rejected: 0, newer: 0 };
    const written = KNOWN_EVENT_TYPES.map((type) => envelope(type, EventPayloads[type].parse(SAMPLES[type])));
    const item = SAMPLES['context.itemAdded'].item as Record<string, unknown>;
    // Without its refined range, a context item is the fast check's to decide.
    const itemWithoutRange = envelope('context.itemAdded', { ...SAMPLES['context.itemAdded'], item: { ...item, source: { path: 'a.ts' } } });
    const bases = [
      ...written,
      ...KNOWN_EVENT_TYPES.map((type) => envelope(type, SAMPLES[type])),
      itemWithoutRange,
      envelope('mystery.happened', { x: 1 }),
      { ...envelope('change.created', { title: 'T' }), v: 2 },
    ];
    for (const base of bases) assertAgrees(base, tally);
    // Every field of every event as a writer produces it: removed, set to undefined, to
    // each nearby wrong value; and an extra field in every object.
    const values = [...new Set([...ANY_VALUES, ...Object.values(NEAR_VALUES).flat()])];
    for (const base of [...written, itemWithoutRange]) {
      fields(base).forEach((_, at) => {
        const variants: Array<(holder: Record<string, unknown>, key: string) => void> = [
          (holder, key) => (Array.isArray(holder) ? holder.splice(Number(key), 1) : delete holder[key]),
          (holder, key) => (holder[key] = undefined),
          ...values.map((value) => (holder: Record<string, unknown>, key: string) => (holder[key] = value)),
        ];
        for (const change of variants) {
          const copy = structuredClone(base);
          const { holder, key } = fields(copy)[at]!;
          change(holder, key);
          assertAgrees(copy, tally);
        }
      });
      containers(base).forEach((_, at) => {
        const copy = structuredClone(base);
        const target = containers(copy)[at]!;
        if (Array.isArray(target)) target.push('extra');
        else target.fromTheFuture = { kept: true };
        assertAgrees(copy, tally);
      });
    }
    // Then random combinations: a missing field and an extra one, say.
    for (let i = 0; i < 3000; i++) {
      let event = mutate(bases[i % bases.length]!, random);
      for (let more = Math.floor(random() * 3); more > 0; more--) event = mutate(event, random);
      assertAgrees(event, tally);
    }
    // Both sides of the fast check, and the kept newer values, were exercised.
    assert.ok(tally.fast > 1000, `fast accepts: ${tally.fast}`);
    assert.ok(tally.rejected > 1000, `rejections: ${tally.rejected}`);
    assert.ok(tally.newer > 20, `newer values kept: ${tally.newer}`);
  });

  it('rejects a bad event with zod\'s field path and message', () => {
    const bad = validateEvent(envelope('attempt.finished', { stageId: 'plan', attemptId: ULID_A, outcome: 'succeeded', usage: { inputTokens: -1 } }));
    assert.ok(!bad.ok);
    assert.equal(bad.issue.field, 'data.usage.inputTokens');
    assert.match(bad.issue.message, />=0|>= ?0|too small/i);
    const badAt = validateEvent({ ...envelope('change.created', { title: 'T' }), at: '2026-02-30T00:00:00Z' });
    assert.ok(!badAt.ok);
    assert.equal(badAt.issue.field, 'at');
  });
});
