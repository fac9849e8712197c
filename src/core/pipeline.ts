// The pipeline definition (.factory/pipeline.json): the ordered stages a change goes
// through, each with an owner, a prompt template, the outputs it must produce, the
// criteria that verify it, a retry policy, an autonomy gate and a budget.
import * as z from 'zod';
import { lazy } from './lazySchema';

export const PIPELINE_SCHEMA_VERSION = 1;

/** Every schema of pipeline.json, built together on the first use of one (core/lazySchema.ts). */
function buildSchemas() {
  const Id = z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter');

  const OwnerSchema = z.looseObject({
    backend: z.string().min(1).describe('Backend id, or "human" for a person (Factory: Check Agent Backends lists them)'),
    model: z.string().optional().describe('Model name passed to the backend'),
    person: z.string().optional().describe('For a human owner: the person or role who does the stage'),
    args: z.array(z.string()).optional().describe('Extra arguments for the backend'),
  });

  const criterionBase = {
    id: Id.describe('Criterion id, unique within the stage'),
    title: z.string().optional(),
    required: z.boolean().default(true).describe('A required criterion must pass for the stage to hand off; an advisory one is only reported'),
  };

  const Argv = z.array(z.string()).min(1).describe('Program and arguments, never a shell string');

  const CommandCriterionSchema = z.looseObject({
    ...criterionBase,
    kind: z.literal('command'),
    argv: Argv,
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    timeoutMs: z.number().int().positive().default(600_000),
    expectExitCodes: z.array(z.number().int()).default([0]),
    evidence: z.array(z.string()).default([]).describe('Globs of files kept as evidence'),
  });

  const TestReportCriterionSchema = z.looseObject({
    ...criterionBase,
    kind: z.literal('testReport'),
    argv: Argv,
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    timeoutMs: z.number().int().positive().default(600_000),
    reports: z.array(z.string()).min(1).describe('Workspace-relative paths or globs of the JUnit XML / TAP reports the command writes; only files this run wrote count'),
    format: z.enum(['junit', 'tap']).default('junit'),
    expectExitCodes: z.array(z.number().int()).default([0]).describe('Exit codes of a run whose report may pass; any other code fails the criterion even with a clean report'),
  });

  const ScreenshotCriterionSchema = z.looseObject({
    ...criterionBase,
    kind: z.literal('screenshot'),
    start: z
      .looseObject({
        argv: Argv,
        cwd: z.string().optional(),
        env: z.record(z.string(), z.string()).optional(),
        port: z.number().int().positive(),
        timeoutMs: z.number().int().positive().default(60_000).describe('How long to wait for the port'),
      })
      .optional()
      .describe('A command that serves the app, waited for on a port'),
    url: z.string().describe('Base URL to open'),
    pages: z
      .array(
        z.looseObject({
          name: Id,
          path: z.string().default('/'),
          viewport: z.looseObject({ width: z.number().int().positive(), height: z.number().int().positive() }).default({ width: 1280, height: 800 }),
          selector: z.string().optional().describe('A selector that must be visible'),
        }),
      )
      .min(1),
  });

  const FileExistsCriterionSchema = z.looseObject({
    ...criterionBase,
    kind: z.literal('fileExists'),
    paths: z.array(z.string()).min(1),
  });

  const HumanApprovalCriterionSchema = z.looseObject({
    ...criterionBase,
    kind: z.literal('humanApproval'),
    approver: z.string().optional().describe('Person or role who approves'),
  });

  const CriterionSchema = z.discriminatedUnion('kind', [
    CommandCriterionSchema,
    TestReportCriterionSchema,
    ScreenshotCriterionSchema,
    FileExistsCriterionSchema,
    HumanApprovalCriterionSchema,
  ]);

  const BudgetSchema = z.looseObject({
    wallTimeMs: z.number().int().positive().optional(),
    turns: z.number().int().positive().optional(),
    tokens: z.number().int().positive().optional(),
    costUsd: z.number().positive().optional(),
  });

  const StageSchema = z.looseObject({
    id: Id,
    title: z.string().min(1),
    role: z.string().default(''),
    owner: OwnerSchema,
    prompt: z.string().default('').describe('Prompt template: {{change.title}}, {{change.description}}, {{context}}, {{previous.handoff}} (or just {{previous.summary}}), {{previous.outputs}}, {{failures}}'),
    inputs: z.array(z.string()).default([]).describe('What the stage receives: context item kinds or previous stage outputs'),
    outputs: z.array(z.string()).default([]).describe('Paths the stage must produce'),
    verification: z.array(CriterionSchema).default([]),
    retry: z.looseObject({ maxAttempts: z.number().int().min(1).default(3), feedFailures: z.boolean().default(true) }).default({ maxAttempts: 3, feedFailures: true }),
    autonomy: z.enum(['auto', 'approve']).default('approve').describe('auto: advance to the next stage on success; approve: stop and ask'),
    maxAutonomy: z.enum(['auto', 'approve']).optional().describe('The most autonomy a lead may grant this stage from its evidence (default auto)'),
    neverAutoWhenTouching: z.array(z.string()).optional().describe('Globs of workspace paths: a change touching one never auto-advances past this stage'),
    budget: BudgetSchema.default({}),
  });

  const PipelineSchema = z
    .looseObject({
      $schema: z.string().optional(),
      version: z.literal(PIPELINE_SCHEMA_VERSION),
      stages: z.array(StageSchema).min(1),
      budget: BudgetSchema.default({}).describe('Budget for the whole change'),
      autonomyPolicy: z
        .looseObject({
          threshold: z.number().min(0).max(1).optional().describe('Lower bound of the first-pass 95 % interval needed to recommend auto-advance (default 0.7)'),
          minSample: z.number().int().positive().optional().describe('Fewest decided stage visits before recommending auto-advance (default 10)'),
          window: z.number().int().positive().optional().describe('How many recent visits the evidence looks at (default 20)'),
          revokeSendBacks: z.number().int().positive().optional().describe('Recommend revoking after this many send-backs or rollbacks… (default 2)'),
          revokeWindow: z.number().int().positive().optional().describe('…in the last this many visits (default 5)'),
        })
        .optional()
        .describe('When the cockpit recommends granting or revoking a stage\'s auto-advance'),
    })
    .superRefine((pipeline, ctx) => {
      const seen = new Set<string>();
      pipeline.stages.forEach((stage, i) => {
        if (seen.has(stage.id)) ctx.addIssue({ code: 'custom', path: ['stages', i, 'id'], message: `duplicate stage id "${stage.id}"` });
        seen.add(stage.id);
      });
    });
  return { OwnerSchema, CommandCriterionSchema, TestReportCriterionSchema, ScreenshotCriterionSchema, FileExistsCriterionSchema, HumanApprovalCriterionSchema, CriterionSchema, BudgetSchema, StageSchema, PipelineSchema };
}
let built: ReturnType<typeof buildSchemas> | undefined;
const schemas = () => (built ??= buildSchemas());

/** Who does a stage: an agent backend (by id) or a person (`backend: "human"`). */
export const OwnerSchema = lazy(() => schemas().OwnerSchema);
export const CommandCriterionSchema = lazy(() => schemas().CommandCriterionSchema);
export const TestReportCriterionSchema = lazy(() => schemas().TestReportCriterionSchema);
export const ScreenshotCriterionSchema = lazy(() => schemas().ScreenshotCriterionSchema);
export const FileExistsCriterionSchema = lazy(() => schemas().FileExistsCriterionSchema);
export const HumanApprovalCriterionSchema = lazy(() => schemas().HumanApprovalCriterionSchema);
export const CriterionSchema = lazy(() => schemas().CriterionSchema);
export const BudgetSchema = lazy(() => schemas().BudgetSchema);
export const StageSchema = lazy(() => schemas().StageSchema);
export const PipelineSchema = lazy(() => schemas().PipelineSchema);

export type Owner = z.infer<typeof OwnerSchema>;
export type Criterion = z.infer<typeof CriterionSchema>;
export type Budget = z.infer<typeof BudgetSchema>;
export type Stage = z.infer<typeof StageSchema>;
export type Pipeline = z.infer<typeof PipelineSchema>;

/** The project's own test command, as found in its files (store/projectTests.ts). */
export interface DetectedTests {
  argv: string[];
  env?: Record<string, string>;
  /** The report the command writes (JUnit XML or TAP): only with a report do the tests count one by one. */
  reports?: string[];
  format?: 'junit' | 'tap';
  /** Where it was found, for the person editing pipeline.json. */
  source: string;
}

/** A criterion that runs the project's tests: with their report when there is one, else their exit code. */
function testsCriterion(tests: DetectedTests, id: string, title: string) {
  const base = { id, title, argv: tests.argv, ...(tests.env ? { env: tests.env } : {}) };
  return tests.reports?.length ? { ...base, kind: 'testReport' as const, reports: tests.reports, format: tests.format ?? 'junit' } : { ...base, kind: 'command' as const };
}

/**
 * The pipeline written on first use: plan, implement, test, review, QA with evidence.
 * Every agent-owned stage passes on positive evidence, never on an agent's clean exit
 * alone: the plan must exist, and Implement and Test run the project's own tests when
 * they can be found. Without them those two stages still hand off, shown as "passed,
 * unverified" until a criterion is added.
 */
export function defaultPipeline(options: { tests?: DetectedTests } = {}): Pipeline {
  const tests = options.tests;
  return PipelineSchema.parse({
    version: PIPELINE_SCHEMA_VERSION,
    stages: [
      {
        id: 'plan',
        title: 'Plan',
        role: 'planner',
        owner: { backend: 'claude-code' },
        prompt: 'Write PLAN.md: a short plan for "{{change.title}}".\n\n{{change.description}}\n\n{{context}}\n\n{{failures}}',
        outputs: ['PLAN.md'],
        verification: [{ id: 'plan-written', kind: 'fileExists', paths: ['PLAN.md'] }],
        autonomy: 'approve',
      },
      {
        id: 'implement',
        title: 'Implement',
        role: 'implementer',
        owner: { backend: 'claude-code' },
        prompt: 'Implement "{{change.title}}" following the plan in PLAN.md.\n\n{{previous.handoff}}\n\n{{context}}\n\n{{failures}}',
        verification: tests ? [testsCriterion(tests, 'tests-still-pass', `The project's tests still pass (${tests.source})`)] : [],
        autonomy: 'auto',
      },
      {
        id: 'test',
        title: 'Test',
        role: 'tester',
        owner: { backend: 'claude-code' },
        prompt: 'Write and run tests for "{{change.title}}".\n\n{{previous.handoff}}\n\n{{context}}\n\n{{failures}}',
        verification: tests ? [testsCriterion(tests, 'tests-pass', `The project's tests pass (${tests.source})`)] : [],
        autonomy: 'auto',
      },
      {
        id: 'review',
        title: 'Review',
        role: 'reviewer',
        owner: { backend: 'human', person: 'reviewer' },
        verification: [{ id: 'approved', kind: 'humanApproval', approver: 'reviewer' }],
        autonomy: 'approve',
      },
      {
        id: 'qa',
        title: 'QA / evidence',
        role: 'qa',
        owner: { backend: 'human', person: 'qa' },
        verification: [{ id: 'qa-approved', kind: 'humanApproval', approver: 'qa' }],
        autonomy: 'approve',
      },
    ],
  });
}
