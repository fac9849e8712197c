// The record's events. A change's state is a fold over these (see fold.ts). Every
// event is one immutable file; the envelope is the same for all, the `data` payload
// depends on `type`. Unknown types and unknown fields from a newer version are kept
// as they are (loose objects), so an older extension never destroys newer data.
import * as z from 'zod';
import { lazy, lazyEach } from './lazySchema';
import { envelopeCheck, payloadChecks } from './eventChecks.generated';

export const EVENT_SCHEMA_VERSION = 1;

/** Crockford base32 ULID: 48-bit time + 80-bit randomness; sorts by time. */
export const UlidSchema = lazy(() => z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a ULID'));

/** A change id: its folder's name under `.factory/changes/`. */
export const CHANGE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,79}$/;

export const ChangeIdSchema = lazy(() => z.string().regex(CHANGE_ID_PATTERN, 'must be lowercase letters, digits and dashes'));

/** What ChangeIdSchema accepts, asked without building it (the store asks it of every folder it lists). */
export function isChangeId(value: unknown): value is string {
  return typeof value === 'string' && CHANGE_ID_PATTERN.test(value);
}

export const ActorSchema = lazy(() => z.looseObject({ name: z.string(), email: z.string().optional() }));
export type Actor = z.infer<typeof ActorSchema>;

const StageId = lazy(() => z.string().min(1));

/** Where the working tree was when something happened (see git/). */
export const TreeRefSchema = lazy(() => z.looseObject({
  commit: z.string().optional(),
  tree: z.string().optional(),
}));

export const UsageSchema = lazy(() => z.looseObject({
  inputTokens: z.number().nonnegative().optional(),
  outputTokens: z.number().nonnegative().optional(),
  cachedTokens: z.number().nonnegative().optional(),
  costUsd: z.number().nonnegative().optional(),
  costSource: z.enum(['agent', 'estimate']).optional(),
  turns: z.number().int().nonnegative().optional(),
}));

export const EvidenceRefSchema = lazy(() => z.looseObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  name: z.string(),
  mediaType: z.string().optional(),
  bytes: z.number().int().nonnegative().optional(),
}));
export type EvidenceRef = z.infer<typeof EvidenceRefSchema>;

export const AttemptOutcomeSchema = lazy(() => z.enum(['succeeded', 'failed', 'cancelled', 'timedOut', 'budgetExceeded', 'interrupted']));
export type AttemptOutcome = z.infer<typeof AttemptOutcomeSchema>;

// The context pack (see contextPack.ts): items are snapshots whose content is stored
// as content-addressed evidence, so any pack version can be rebuilt from the record.
const Sha256Schema = lazy(() => z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'));

/** Lines are 1-based and inclusive; characters (selections only) are 0-based UTF-16 offsets within their line, the end exclusive, like VS Code's Position.character. */
export const ContextRangeSchema = lazy(() => z
  .looseObject({
    startLine: z.number().int().positive(),
    endLine: z.number().int().positive(),
    startCharacter: z.number().int().nonnegative().optional(),
    endCharacter: z.number().int().nonnegative().optional(),
  })
  .refine((r) => r.endLine >= r.startLine, { message: 'endLine must not be before startLine', path: ['endLine'] }));

export const ContextSourceSchema = lazy(() => z.looseObject({
  /** Workspace-relative, forward slashes. */
  path: z.string().min(1).optional(),
  range: ContextRangeSchema.optional(),
  /** The stage whose output this is (stage outputs). */
  stageId: StageId.optional(),
  attemptId: UlidSchema.optional(),
  /** Free-form origin: user, handoff, convention, ticket… */
  origin: z.string().optional(),
}));

export const ContextItemSchema = lazy(() => z.looseObject({
  id: z.string().min(1).max(200),
  // A string, not an enum: a kind added by a newer version must not get this version's events quarantined.
  kind: z.string().min(1),
  title: z.string(),
  source: ContextSourceSchema,
  contentHash: Sha256Schema,
  tokens: z.number().int().nonnegative(),
  content: EvidenceRefSchema,
  pinned: z.boolean().default(false),
}));

/** Payload schemas by event type. */
export const EventPayloads = lazyEach({
  'change.created': () => z.looseObject({
    title: z.string().min(1),
    description: z.string().optional(),
    ticket: z.string().optional(),
    branch: z.string().optional(),
  }),
  'change.completed': () => z.looseObject({ note: z.string().optional() }),
  'stage.ownerChanged': () => z.looseObject({ stageId: StageId, owner: z.looseObject({ backend: z.string(), model: z.string().optional(), person: z.string().optional() }) }),
  'attempt.started': () => z.looseObject({
    stageId: StageId,
    attemptId: UlidSchema,
    backend: z.string(),
    /** The model asked for: the stage owner's, else the backend's setting. */
    model: z.string().optional(),
    /** The prompt byte for byte as the agent received it. */
    prompt: z.string().optional(),
    contextVersion: z.string().optional(),
    start: TreeRefSchema.optional(),
    checkpoint: z.string().optional(),
    /** Which process runs the attempt, so another window does not mistake it for interrupted. */
    runner: z.looseObject({ pid: z.number().int(), host: z.string() }).optional(),
    /** Attempt number within the stage (1-based) and what made it run. */
    number: z.number().int().positive().optional(),
    // Open: a newer version may start attempts for reasons this one does not know.
    trigger: z.string().optional(),
  }),
  'attempt.finished': () => z.looseObject({
    stageId: StageId,
    attemptId: UlidSchema,
    outcome: AttemptOutcomeSchema,
    reason: z.string().optional(),
    summary: z.string().optional(),
    usage: UsageSchema.optional(),
    durationMs: z.number().nonnegative().optional(),
    end: TreeRefSchema.optional(),
    transcript: EvidenceRefSchema.optional(),
    sessionId: z.string().optional(),
    /** The attempt's diff (start tree → end tree) as evidence, and the files it touched. */
    diff: EvidenceRefSchema.optional(),
    changedFiles: z.array(z.looseObject({ status: z.string(), path: z.string() })).optional(),
    /** Workspace-relative files the agent read (for the advisory "context re-read" figure). */
    filesRead: z.array(z.string()).optional(),
    /** Who stopped it, when a person did. */
    stoppedBy: z.string().optional(),
    /** The model the agent itself said answered, when it said (the started event's `model` is the one asked for). */
    reportedModel: z.string().optional(),
    /** The agent's version: from its own stream, else its `--version`. */
    agentVersion: z.string().optional(),
    /** Tool calls that failed or were refused while the turn itself may have ended normally. */
    failedToolCalls: z.array(z.looseObject({ name: z.string(), id: z.string().optional(), reason: z.string().optional() })).optional(),
    /** The factory's MCP server passed to the run (#18): `connected`, `failed` or `unknown` (the agent does not say); open for a newer version. */
    mcpStatus: z.looseObject({ status: z.string(), detail: z.string().optional() }).optional(),
  }),
  'attempt.rolledBack': () => z.looseObject({
    stageId: StageId,
    attemptId: UlidSchema,
    checkpoint: z.string().optional(),
    /** What the rollback changed in the working tree. */
    files: z.array(z.looseObject({ path: z.string(), action: z.string() })).optional(),
    skippedSubmodules: z.array(z.string()).optional(),
  }),
  'verification.recorded': () => z.looseObject({
    stageId: StageId,
    criterionId: z.string(),
    attemptId: UlidSchema.optional(),
    outcome: z.enum(['passed', 'failed', 'error', 'skipped']),
    required: z.boolean().default(true),
    message: z.string().optional(),
    durationMs: z.number().nonnegative().optional(),
    evidence: z.array(EvidenceRefSchema).default([]),
    verified: TreeRefSchema.optional(),
    // What a reviewer needs to read the result (see verify/runner.ts). Loosely typed on
    // purpose: they are shown, never folded, and must not get an older file set aside.
    kind: z.string().optional(),
    startedAt: z.string().optional(),
    environment: z.unknown().optional(),
    treeChangedDuringRun: z.boolean().optional(),
    totals: z.unknown().optional(),
    notes: z.unknown().optional(),
    command: z.unknown().optional(),
    approval: z.unknown().optional(),
    waitingForApproval: z.boolean().optional(),
    /** The sentence fed back to the stage's next attempt when this criterion did not pass. */
    failureFeedback: z.string().optional(),
  }),
  'stage.approvalRequested': () => z.looseObject({ stageId: StageId, attemptId: UlidSchema.optional() }),
  'review.decided': () => z.looseObject({
    stageId: StageId,
    /** `sentBack` here is how versions before `stage.sentBack` recorded a send-back to the same stage. */
    decision: z.enum(['approved', 'sentBack']),
    note: z.string().optional(),
    /** The working tree the approval was given on: an edit afterwards shows it stale. */
    at: TreeRefSchema.optional(),
  }),
  /**
   * A reviewer kept or rejected one hunk of an attempt's diff. `hunk` names it by
   * content (sha256 of its path and lines), so the next stage and the record know
   * what was kept whatever the line numbers became; a rejection was reverted in the
   * working tree (`at` is the tree after the revert).
   */
  'review.hunkDecided': () => z.looseObject({
    stageId: StageId,
    attemptId: UlidSchema.optional(),
    path: z.string().min(1),
    hunk: z.string().min(1),
    header: z.string().optional(),
    // Open: a newer version may know more decisions than these.
    decision: z.string().min(1),
    note: z.string().optional(),
    at: TreeRefSchema.optional(),
  }),
  /** A reviewer's comment on a step (stage or attempt) or on a line of a diff. */
  'review.commented': () => z.looseObject({
    body: z.string(),
    stageId: StageId.optional(),
    attemptId: UlidSchema.optional(),
    /** On a diff: the workspace-relative path, the side and the 1-based line, in the tree named. */
    path: z.string().optional(),
    line: z.number().int().positive().optional(),
    side: z.string().optional(),
    tree: z.string().optional(),
    /** A reply names the comment it answers. */
    replyTo: UlidSchema.optional(),
  }),
  /**
   * A reviewer sent the change back from `fromStage` to `toStage` (the same stage or an
   * earlier one). `toStage` reopens; the stages after it go back to pending. It names
   * the attempts it reopens and supersedes, so the fold reads it the same whatever the
   * order of clocks between machines.
   */
  'stage.sentBack': () => z.looseObject({
    fromStage: StageId,
    toStage: StageId,
    note: z.string().optional(),
    /** The latest attempt of `toStage` when it was sent back: its handoff no longer stands. */
    reopens: UlidSchema.optional(),
    /** Attempts of the stages after `toStage`: kept, shown as superseded. */
    supersedes: z.array(UlidSchema).default([]),
    /** The context pack as it was when sent back: what the reopened stage is handed. */
    contextVersion: z.string().optional(),
  }),
  'stage.completedByHand': () => z.looseObject({ stageId: StageId, note: z.string().optional() }),
  'handoff.recorded': () => z.looseObject({
    fromStage: StageId,
    toStage: StageId.optional(),
    attemptId: UlidSchema.optional(),
    contextVersion: z.string().optional(),
    summary: z.string().optional(),
    outputs: z.array(z.string()).default([]),
    at: TreeRefSchema.optional(),
  }),
  'context.itemAdded': () => z.looseObject({
    item: ContextItemSchema,
    /** Index to insert at; the end when absent. */
    position: z.number().int().nonnegative().optional(),
    /** The stage the edit was made for (e.g. the handoff that added a stage output). */
    stageId: StageId.optional(),
  }),
  'context.itemRemoved': () => z.looseObject({ itemId: z.string().min(1), stageId: StageId.optional() }),
  'context.itemsReordered': () => z.looseObject({ order: z.array(z.string().min(1)), stageId: StageId.optional() }),
  'context.itemPinned': () => z.looseObject({ itemId: z.string().min(1), pinned: z.boolean(), stageId: StageId.optional() }),
  'context.itemRefreshed': () => z.looseObject({
    itemId: z.string().min(1),
    contentHash: Sha256Schema,
    tokens: z.number().int().nonnegative(),
    content: EvidenceRefSchema,
    title: z.string().optional(),
    source: ContextSourceSchema.optional(),
    stageId: StageId.optional(),
  }),
  // What an agent did through the factory's MCP server (src/mcp/), bound to its attempt.
  /** The agent fetched the context pack (or the handoff carrying it): the attempt consumed `contextVersion` (core/signal.ts). */
  'context.fetched': () => z.looseObject({
    attemptId: UlidSchema.optional(),
    stageId: StageId.optional(),
    contextVersion: z.string().min(1),
    /** `pack`, `handoff`, `item`; open for a newer version. */
    what: z.string().default('pack'),
    tool: z.string().optional(),
  }),
  /** A progress note or a handoff summary the running attempt's agent recorded. */
  'attempt.noted': () => z.looseObject({
    attemptId: UlidSchema.optional(),
    stageId: StageId.optional(),
    /** `progress` or `summary`; open for a newer version. */
    kind: z.string().default('progress'),
    text: z.string().min(1),
    tool: z.string().optional(),
  }),
  /** A tool of the factory's MCP server the attempt's agent called (the attempt's record lists them). */
  'attempt.toolCalled': () => z.looseObject({
    attemptId: UlidSchema.optional(),
    stageId: StageId.optional(),
    server: z.string().default('factory'),
    tool: z.string().min(1),
    ok: z.boolean().default(true),
  }),
  // The lead's decisions (see core/autonomy.ts, core/lessons.ts). They concern the
  // pipeline, not one change: they live in `.factory/decisions/` under the change id
  // "factory" (store/decisionLog.ts), and travel with git like every event.
  /** A stage's effective autonomy raised (within the pipeline's limit), with the evidence at that moment. */
  'autonomy.granted': () => z.looseObject({
    stageId: StageId,
    autonomy: z.string().default('auto'),
    owner: z.string().optional(),
    evidence: z.looseObject({}).optional(),
    note: z.string().optional(),
  }),
  /** A stage's effective autonomy lowered again, with the failure pattern that made it. */
  'autonomy.revoked': () => z.looseObject({
    stageId: StageId,
    autonomy: z.string().default('approve'),
    owner: z.string().optional(),
    evidence: z.looseObject({}).optional(),
    note: z.string().optional(),
  }),
  /** A recurring failure promoted into the project's conventions, so later stages get it. */
  'lesson.promoted': () => z.looseObject({
    lessonId: z.string().min(1),
    stageId: StageId.optional(),
    kind: z.string().optional(),
    text: z.string().min(1),
    /** Workspace-relative file it was written to (`.factory/conventions.md` by default). */
    target: z.string().min(1),
    examples: z.array(z.looseObject({ changeId: z.string(), reason: z.string().optional() })).default([]),
  }),
});

export type KnownEventType = keyof typeof EventPayloads;
export const KNOWN_EVENT_TYPES = Object.keys(EventPayloads) as KnownEventType[];

export const EventEnvelopeSchema = lazy(() => z.looseObject({
  v: z.number().int().positive(),
  id: UlidSchema,
  change: ChangeIdSchema,
  type: z.string().regex(/^[a-z][a-zA-Z]*\.[a-z][a-zA-Z]*$/, 'must look like "noun.verb"'),
  at: z.iso.datetime({ offset: true }),
  by: ActorSchema.optional(),
  data: z.looseObject({}),
}));

/** The envelope every event file has; unknown extra fields are kept alongside. */
export interface EventEnvelope {
  v: number;
  id: string;
  change: string;
  type: string;
  at: string;
  by?: Actor;
  data: Record<string, unknown>;
  [extra: string]: unknown;
}
export type EventOf<T extends KnownEventType> = EventEnvelope & {
  type: T;
  data: z.infer<(typeof EventPayloads)[T]>;
};
export type KnownEvent = { [T in KnownEventType]: EventOf<T> }[KnownEventType];
/** An event of a type this version does not know: kept and shown, never folded. */
export type UnknownEvent = EventEnvelope;
export type FactoryEvent = KnownEvent | UnknownEvent;

/** What a caller hands the store to append; the store assigns id, version and time. */
export type EventDraft = { [T in KnownEventType]: { type: T; data: z.input<(typeof EventPayloads)[T]>; by?: { name: string; email?: string } } }[KnownEventType];

const KNOWN_TYPE_SET: ReadonlySet<string> = new Set(KNOWN_EVENT_TYPES);

export function isKnownType(type: string): type is KnownEventType {
  // A Set: asked once per event read and per event folded.
  return KNOWN_TYPE_SET.has(type);
}

export interface ValidationIssue {
  /** Dotted path of the failing field, e.g. `data.stageId`. */
  field: string;
  message: string;
}

/**
 * Validates one parsed event file. Returns the typed event or the first failing field.
 * An event the zod schemas accept as it is (no default to fill in) is returned as the
 * very object given, checked by checks compiled from those schemas (fastEventCheck):
 * zod copies every object it validates, which cost twice JSON.parse on a large record.
 * Anything the fast check cannot vouch for goes through zod, which decides and words
 * the problem.
 */
export function validateEvent(raw: unknown): { ok: true; event: FactoryEvent } | { ok: false; issue: ValidationIssue } {
  if (fastEventCheck(raw)) return { ok: true, event: raw as FactoryEvent };
  return validateEventWithSchemas(raw);
}

/** validateEvent through zod alone: the reference the fast check is tested against. */
export function validateEventWithSchemas(raw: unknown): { ok: true; event: FactoryEvent } | { ok: false; issue: ValidationIssue } {
  const envelope = EventEnvelopeSchema.safeParse(raw);
  if (!envelope.success) return { ok: false, issue: firstIssue(envelope.error) };
  if (envelope.data.v > EVENT_SCHEMA_VERSION) {
    // A newer writer: keep the event as unknown (shown, not folded) rather than misread it.
    return { ok: true, event: envelope.data as UnknownEvent };
  }
  const type = envelope.data.type;
  if (!isKnownType(type)) return { ok: true, event: envelope.data as UnknownEvent };
  const payload = EventPayloads[type].safeParse(envelope.data.data);
  if (!payload.success) {
    // A value this version does not know where it expects one of a fixed set (a new
    // decision, outcome or kind) is a newer writer's, not corruption: the event is kept
    // and shown, never folded, and never set aside — an older teammate's extension
    // would otherwise move it and the move would be committed.
    if (payload.error.issues.every((i) => i.code === 'invalid_value' && typeof valueAt(envelope.data.data, i.path) === 'string')) {
      const kept = envelope.data as UnknownEvent;
      newerValues.add(kept);
      return { ok: true, event: kept };
    }
    const issue = firstIssue(payload.error);
    return { ok: false, issue: { ...issue, field: issue.field ? `data.${issue.field}` : 'data' } };
  }
  return { ok: true, event: { ...envelope.data, type, data: payload.data } as FactoryEvent };
}

/**
 * True only when zod would accept the event and return an equal object: the envelope
 * and, for a known type of this version, the payload pass their schema with nothing to
 * fill in. False means "ask zod" (a problem, a default to apply, a newer value). The
 * checks were generated from the schemas when the sources were (eventChecks.generated.ts,
 * a unit test fails when they drift apart): checking a valid record builds no schema.
 */
export function fastEventCheck(raw: unknown): boolean {
  if (!envelopeCheck(raw)) return false;
  const { v, type, data } = raw as EventEnvelope;
  if (v > EVENT_SCHEMA_VERSION) return true;
  // An unknown type is kept with its envelope checked, as zod would.
  if (!isKnownType(type)) return true;
  return payloadChecks[type](data);
}

/**
 * A check compiled from a zod schema, for the few kinds the record's schemas use. True
 * means zod accepts the value and returns it unchanged; false means zod must decide.
 */
export type FastCheck = (value: unknown) => boolean;

/** What the compiler reads of a zod schema's definition (zod's documented `_zod.def`). */
export interface SchemaDef {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  format?: string;
  pattern?: RegExp;
  coerce?: boolean;
  entries?: Record<string, unknown>;
  innerType?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  catchall?: { _zod: { def: SchemaDef } };
}
export interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
}

const undecided: FastCheck = () => false;

/**
 * Compiles a schema into one straight function, as zod compiles its own objects: a
 * property read by name and a regex test per field, nothing allocated. The code is made
 * only from the schema (field names through JSON.stringify, patterns passed as values),
 * never from the data. Where code cannot be generated, zod decides everything.
 */
export function compileFastCheck(def: SchemaDef): FastCheck {
  const patterns: RegExp[] = [];
  const body = fastCheckBody(def, patterns);
  try {
    return new Function('P', `return function fastCheck(value) {\n${body}\nreturn true;\n}`)(patterns) as FastCheck;
  } catch {
    // Code generation refused (a host that forbids it): zod decides everything.
    return undecided;
  }
}

/**
 * The statements of a fast check of `value` (compileFastCheck), which return false
 * unless zod accepts it unchanged; `P[i]` in them is the pattern they pushed to `patterns`.
 */
export function fastCheckBody(def: SchemaDef, patterns: RegExp[]): string {
  const body: string[] = [];
  let names = 0;
  const fresh = () => `v${names++}`;
  /** Statements that return false unless the value in variable `v` is one zod accepts and returns unchanged. */
  const emit = (d: SchemaDef, v: string): void => {
    const checks = (d.checks ?? []).map((c) => c._zod.def);
    switch (d.type) {
      case 'string': {
        if (d.coerce || (d.format !== undefined && !d.pattern)) return void body.push('return false;');
        body.push(`if (typeof ${v} !== 'string') return false;`);
        const test = (re: RegExp) => body.push(`if (!P[${patterns.push(new RegExp(re.source, re.flags.replace(/[gy]/g, ''))) - 1}].test(${v})) return false;`);
        if (d.pattern) test(d.pattern);
        // A check's `when` only ever skips it, so testing unconditionally is at most stricter than zod.
        for (const c of checks) {
          if (c.check === 'string_format' && c.format === 'regex' && c.pattern) test(c.pattern);
          else if (c.check === 'min_length' && typeof c.minimum === 'number') body.push(`if (${v}.length < ${c.minimum}) return false;`);
          else if (c.check === 'max_length' && typeof c.maximum === 'number') body.push(`if (${v}.length > ${c.maximum}) return false;`);
          else return void body.push('return false;');
        }
        return;
      }
      case 'number': {
        if (d.coerce || d.format !== undefined) return void body.push('return false;');
        body.push(`if (typeof ${v} !== 'number' || !Number.isFinite(${v})) return false;`);
        for (const c of checks) {
          if (c.check === 'number_format' && c.format === 'safeint') body.push(`if (!Number.isSafeInteger(${v})) return false;`);
          else if (c.check === 'greater_than' && typeof c.value === 'number') body.push(`if (!(${v} ${c.inclusive ? '>=' : '>'} ${c.value})) return false;`);
          else if (c.check === 'less_than' && typeof c.value === 'number') body.push(`if (!(${v} ${c.inclusive ? '<=' : '<'} ${c.value})) return false;`);
          else return void body.push('return false;');
        }
        return;
      }
      case 'boolean':
        return void body.push(checks.length || d.coerce ? 'return false;' : `if (typeof ${v} !== 'boolean') return false;`);
      case 'unknown':
      case 'any':
        if (checks.length) body.push('return false;');
        return;
      case 'enum': {
        const values = Object.values(d.entries ?? {});
        // An unknown value may be a newer writer's: zod decides (validateEvent keeps those).
        if (checks.length || !values.length || !values.every((x) => typeof x === 'string')) return void body.push('return false;');
        return void body.push(`if (${values.map((x) => `${v} !== ${JSON.stringify(x)}`).join(' && ')}) return false;`);
      }
      case 'optional':
      case 'default': {
        if (checks.length || !d.innerType) return void body.push('return false;');
        // An absent value gets the default: zod's output would differ from the input.
        if (d.type === 'default') body.push(`if (${v} === undefined) return false;`);
        body.push(`if (${v} !== undefined) {`);
        emit(d.innerType._zod.def, v);
        return void body.push('}');
      }
      case 'array': {
        if (checks.length || !d.element) return void body.push('return false;');
        const i = fresh();
        const item = fresh();
        body.push(`if (!Array.isArray(${v})) return false;`, `for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {`, `const ${item} = ${v}[${i}];`);
        emit(d.element._zod.def, item);
        return void body.push('}');
      }
      case 'object': {
        // Only loose objects return their input's keys unchanged; a strict or stripping one
        // may not. A shape key an object inherits (`toString`…) is left to zod, which would read it.
        const shape = Object.entries(d.shape ?? {});
        if (checks.length || !d.shape || d.catchall?._zod.def.type !== 'unknown' || shape.some(([key]) => key in Object.prototype)) return void body.push('return false;');
        body.push(`if (typeof ${v} !== 'object' || ${v} === null || Array.isArray(${v})) return false;`);
        for (const [key, schema] of shape) {
          const field = fresh();
          body.push(`const ${field} = ${v}[${JSON.stringify(key)}];`);
          // Absent where required: zod reports it. Present with the value undefined (never from JSON): as absent.
          emit(schema._zod.def, field);
        }
        return;
      }
      default:
        body.push('return false;');
    }
  };
  emit(def, 'value');
  return body.join('\n');
}

export function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

export function firstIssue(error: z.ZodError): ValidationIssue {
  const issue = error.issues[0];
  if (!issue) return { field: '', message: 'invalid' };
  return { field: issue.path.map(String).join('.'), message: issue.message };
}

/** Events of a known type carrying a value this version does not know (see validateEvent). */
const newerValues = new WeakSet<object>();

/** True for an event this version keeps and shows but cannot fold: a newer schema version, an unknown type, or an unknown value. */
export function isFromNewerVersion(event: FactoryEvent): boolean {
  return event.v > EVENT_SCHEMA_VERSION || !isKnownType(event.type) || newerValues.has(event);
}

/** True for an event of a known type kept only because it carries a value this version does not know (see validateEvent). */
export function carriesNewerValue(event: FactoryEvent): boolean {
  return newerValues.has(event);
}

/** Narrowing helper for folds and views. */
export function isEvent<T extends KnownEventType>(event: FactoryEvent, type: T): event is EventOf<T> {
  return event.type === type && event.v <= EVENT_SCHEMA_VERSION && !newerValues.has(event);
}
