// The Flow Dashboard's messages, one schema per direction, checked on both sides. The
// host sends the report the engine computed (engine/metrics.ts); the webview asks for
// another filter, opens a change, exports, accepts a recommendation or promotes a lesson.
import * as z from 'zod';
import type { AutonomyEvidence, Recommendation, StageAutonomy } from './autonomy';
import type { Lesson } from './lessons';
import type { Metrics } from './metricsTypes';

/** What the engine computes for the dashboard and the CLI (engine/metrics.ts). */
export interface DashboardReport {
  metrics: Metrics;
  autonomy: { stages: StageAutonomy[]; evidence: AutonomyEvidence[]; recommendations: Recommendation[] };
  lessons: Lesson[];
  history: { branches: string[]; stats: { refs: number; changes: number; refolded: number; eventsRead: number; fromGit: boolean }; problems: { path: string; field: string; message: string }[] };
}

const Filter = z.object({
  since: z.number().optional(),
  until: z.number().optional(),
  stage: z.string().max(100).optional(),
  owner: z.string().max(200).optional(),
  backend: z.string().max(100).optional(),
  branch: z.string().max(300).optional(),
  author: z.string().max(200).optional(),
});
export type DashboardFilter = z.infer<typeof Filter>;

export const DashboardWebviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('setFilter'), filter: Filter, stuckDays: z.number().int().min(1).max(365) }),
  /** `ref`: the branch the change was read from, when it is not in the working folder. */
  z.object({ type: z.literal('openChange'), changeId: z.string().min(1).max(100), ref: z.string().min(1).max(300).optional() }),
  z.object({ type: z.literal('export'), format: z.enum(['csv', 'json']) }),
  z.object({ type: z.literal('accept'), stageId: z.string().min(1).max(100), action: z.enum(['grant', 'revoke']), owner: z.string().max(200) }),
  z.object({ type: z.literal('promoteLesson'), lessonId: z.string().min(1).max(200) }),
  z.object({ type: z.literal('cspViolation'), directive: z.string().max(200), blocked: z.string().max(500) }),
]);
export type DashboardWebviewMessage = z.infer<typeof DashboardWebviewMessageSchema>;

/** The report is built by the host from the record; its shape is the engine's MetricsReport. */
export const DashboardHostMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    report: z.looseObject({ metrics: z.looseObject({ headline: z.looseObject({}), rows: z.array(z.looseObject({ id: z.string() })) }) }),
    filter: Filter,
    stuckDays: z.number(),
    timeZone: z.string(),
    loading: z.boolean().optional(),
  }),
  z.object({ type: z.literal('loading') }),
  z.object({ type: z.literal('notice'), level: z.enum(['info', 'warning', 'error']), text: z.string().max(20_000) }),
]);
export type DashboardHostMessage = z.infer<typeof DashboardHostMessageSchema>;

type Parsed<M> = { ok: true; message: M } | { ok: false; error: string };
function parser<M>(schema: z.ZodType<M>, side: string): (raw: unknown) => Parsed<M> {
  return (raw) => {
    const result = schema.safeParse(raw);
    if (result.success) return { ok: true, message: result.data };
    const issue = result.error.issues[0];
    return { ok: false, error: `Dashboard: invalid ${side} message at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` };
  };
}
export const parseDashboardWebviewMessage = parser(DashboardWebviewMessageSchema, 'webview');
export const parseDashboardHostMessage = parser(DashboardHostMessageSchema, 'host');
