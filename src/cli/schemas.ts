// The shapes `--json` prints, as zod schemas: the documented contract for scripts and
// CI (tests parse every command's output with these). Each output names its `kind`
// and a `version`; a new field may be added within a version, never one removed or
// changed. Items of the context pack are the record's own schema (core/events.ts).
import * as z from 'zod';
import { AttemptOutcomeSchema, ContextItemSchema, EvidenceRefSchema } from '../core/events';
import { OUTPUT_VERSION } from './outputVersion';

export { OUTPUT_VERSION };

const base = <K extends string>(kind: K) => ({ kind: z.literal(kind), version: z.literal(OUTPUT_VERSION) });

export const StageStatusSchema = z.enum(['pending', 'running', 'passed', 'failed', 'needsApproval', 'stale', 'sentBack']);

export const AttemptOutputSchema = z.looseObject({
  id: z.string(),
  number: z.number().optional(),
  backend: z.string(),
  model: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Absent while it runs. */
  outcome: AttemptOutcomeSchema.optional(),
  reason: z.string().optional(),
  durationMs: z.number().optional(),
  costUsd: z.number().optional(),
  tokens: z.number().optional(),
  transcript: EvidenceRefSchema.optional(),
  diff: EvidenceRefSchema.optional(),
  /** The factory's MCP server passed to the run: connected, failed or unknown (the agent does not say), with the detail. */
  mcpStatus: z.looseObject({ status: z.enum(['connected', 'failed', 'unknown']), detail: z.string().optional() }).optional(),
  /** The factory's MCP tools the attempt's agent called. */
  mcpTools: z.array(z.string()).optional(),
  rolledBack: z.boolean(),
  superseded: z.boolean(),
});

export const CriterionOutputSchema = z.looseObject({
  criterionId: z.string(),
  outcome: z.enum(['passed', 'failed', 'error', 'skipped']),
  required: z.boolean(),
  message: z.string().optional(),
  verifiedTree: z.string().optional(),
  stale: z.boolean(),
});

export const StageOutputSchema = z.looseObject({
  id: z.string(),
  title: z.string(),
  status: StageStatusSchema,
  owner: z.looseObject({ backend: z.string(), model: z.string().optional(), person: z.string().optional() }),
  handedOff: z.boolean(),
  approved: z.boolean(),
  attempts: z.array(AttemptOutputSchema),
  results: z.array(CriterionOutputSchema),
  /** What the rules allow on the stage now (run, retry, stop, approve, sendBack, completeByHand, changeOwner, verify). */
  allowed: z.array(z.string()),
});

export const ChangeOutputSchema = z.looseObject({
  id: z.string(),
  title: z.string(),
  ticket: z.string().optional(),
  description: z.string().optional(),
  branch: z.string().optional(),
  createdAt: z.string().optional(),
  completed: z.boolean(),
  activeStageId: z.string().optional(),
  verification: z.looseObject({ state: z.string(), passed: z.number(), failed: z.number(), stale: z.number(), total: z.number() }),
  stages: z.array(StageOutputSchema),
});

export const ChangeSummaryOutputSchema = z.looseObject({
  id: z.string(),
  title: z.string(),
  ticket: z.string().optional(),
  branch: z.string().optional(),
  completed: z.boolean(),
  activeStageId: z.string().optional(),
  current: z.boolean(),
  stages: z.array(z.looseObject({ id: z.string(), status: StageStatusSchema })),
});

export const ProblemOutputSchema = z.looseObject({ path: z.string(), field: z.string(), message: z.string(), quarantinedTo: z.string().optional() });

export const RunnerOutputSchema = z.looseObject({
  changeId: z.string(),
  pid: z.number(),
  hostname: z.string(),
  alive: z.boolean(),
  startedAt: z.string(),
  startedBy: z.string(),
  stageId: z.string().optional(),
  attemptId: z.string().optional(),
  log: z.string(),
});

export const StatusOutputSchema = z.looseObject({
  ...base('status'),
  root: z.string(),
  isRepository: z.boolean(),
  trusted: z.boolean(),
  branch: z.string().optional(),
  /** The change shown: the current one, or --change. Null when there is none. */
  change: ChangeOutputSchema.nullable(),
  currentChangeId: z.string().nullable(),
  changes: z.array(ChangeSummaryOutputSchema),
  runners: z.array(RunnerOutputSchema),
  /** Attempts whose process was found gone on this read and recorded as interrupted. */
  interrupted: z.array(z.looseObject({ changeId: z.string(), stageId: z.string(), attemptId: z.string() })),
  problems: z.array(ProblemOutputSchema),
});

export const ChangeListOutputSchema = z.looseObject({ ...base('changes'), currentChangeId: z.string().nullable(), changes: z.array(ChangeSummaryOutputSchema) });

export const ChangeStartedOutputSchema = z.looseObject({ ...base('changeStarted'), change: ChangeOutputSchema });
export const ChangeSwitchedOutputSchema = z.looseObject({ ...base('changeSwitched'), changeId: z.string() });

export const ContextOutputSchema = z.looseObject({
  ...base('context'),
  changeId: z.string(),
  /** The pack's version (a hash of its items). */
  packVersion: z.string(),
  /** Items as the record has them (core/events.ts ContextItemSchema). */
  items: z.array(ContextItemSchema),
  /** Items this command added or touched. */
  touched: z.array(z.string()).optional(),
});

export const RenderOutputSchema = z.looseObject({ ...base('contextRender'), changeId: z.string(), packVersion: z.string(), tokens: z.number(), withinBudget: z.boolean(), included: z.array(z.string()), text: z.string() });

export const RunOutputSchema = z.looseObject({
  ...base('run'),
  changeId: z.string(),
  /** Why the run stopped: completed, handedOff, approval, waitingForPerson, budget, failed, retriesExhausted, cancelled — or `detached` when a runner took it. */
  stopped: z.string(),
  stageId: z.string().optional(),
  attempts: z.array(z.string()),
  detail: z.string(),
  runner: z.looseObject({ pid: z.number(), attemptId: z.string().optional(), log: z.string() }).optional(),
  change: ChangeOutputSchema.optional(),
});

export const ActionOutputSchema = z.looseObject({ ...base('action'), action: z.string(), changeId: z.string(), stageId: z.string(), change: ChangeOutputSchema });

export const VerifyOutputSchema = z.looseObject({
  ...base('verify'),
  changeId: z.string(),
  stageId: z.string(),
  passed: z.boolean(),
  waitingForApproval: z.boolean(),
  tree: z.string(),
  results: z.array(z.looseObject({ criterionId: z.string(), outcome: z.string(), required: z.boolean(), message: z.string().optional() })),
  failureFeedback: z.string().optional(),
});

export const EvidenceOutputSchema = z.looseObject({
  ...base('evidence'),
  changeId: z.string().nullable(),
  checked: z.number(),
  mismatches: z.array(z.looseObject({ sha256: z.string().optional(), path: z.string().optional(), message: z.string().optional() })),
});

export const BackendOutputSchema = z.looseObject({
  id: z.string(),
  displayName: z.string(),
  available: z.boolean(),
  path: z.string().optional(),
  version: z.string().optional(),
  problem: z.string().optional(),
  setting: z.string().optional(),
  capabilities: z.record(z.string(), z.unknown()),
  /** Runs inside the editor (vscode.lm): not available to the CLI or a detached runner. */
  inEditor: z.boolean(),
});

export const BackendsOutputSchema = z.looseObject({ ...base('backends'), backends: z.array(BackendOutputSchema) });

export const DoctorOutputSchema = z.looseObject({
  ...base('doctor'),
  root: z.string(),
  isRepository: z.boolean(),
  trusted: z.boolean(),
  healthy: z.boolean(),
  config: z.looseObject({
    path: z.string(),
    found: z.boolean(),
    settings: z.record(z.string(), z.string()),
    /** FACTORY_BACKENDS_* variables that name no setting (ignored), with the one each probably meant. */
    unknownEnvironment: z.array(z.looseObject({ name: z.string(), suggestion: z.string().optional() })),
  }),
  pipeline: z.looseObject({
    path: z.string(),
    valid: z.boolean(),
    stages: z.array(z.string()),
    /** Keys of pipeline.json this version does not know: kept and ignored (often a typo), with the known key they are closest to. */
    unknownKeys: z.array(z.looseObject({ path: z.string(), key: z.string(), suggestion: z.string().optional() })),
  }),
  problems: z.array(ProblemOutputSchema),
  quarantined: z.array(z.string()),
  backends: z.array(BackendOutputSchema),
  runners: z.array(RunnerOutputSchema),
  runnerLog: z.looseObject({ path: z.string(), tail: z.array(z.string()) }),
});

export const ErrorOutputSchema = z.looseObject({ kind: z.literal('error'), version: z.literal(OUTPUT_VERSION), exitCode: z.number(), message: z.string() });
