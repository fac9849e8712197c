// The lead's use case: the team's history (every branch and the working folder) turned
// into the dashboard's numbers, the autonomy evidence and recommendations, and the
// lessons; exported as CSV and JSON. The editor's dashboard and the CLI's `metrics`
// call the same functions, so they print the same numbers.
import { autonomyEvidence, autonomyPolicy, effectiveAutonomy, recommendations } from '../core/autonomy';
import { proposeLessons } from '../core/lessons';
import { computeMetrics, FAILURE_KINDS, type ChangeFact, type MetricsFilter } from '../core/metrics';
import type { Pipeline } from '../core/pipeline';
import { terminalText } from '../core/safeText';
import type { DashboardReport } from '../core/dashboardProtocol';
import { readTeamHistory, type TeamHistory, type TeamHistoryInput } from './teamHistory';

export interface MetricsRequest {
  filter?: MetricsFilter;
  stuckDays?: number;
  timeZone?: string;
  now?: number;
}

export type MetricsReport = DashboardReport;

export function reportFrom(history: Pick<TeamHistory, 'facts' | 'decisions' | 'branches' | 'stats' | 'problems'>, pipeline: Pipeline, request: MetricsRequest = {}): MetricsReport {
  const order = pipeline.stages.map((s) => s.id);
  const metrics = computeMetrics(history.facts, order, {
    now: request.now ?? Date.now(),
    ...(request.stuckDays !== undefined ? { stuckDays: request.stuckDays } : {}),
    timeZone: request.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    ...(request.filter ? { filter: request.filter } : {}),
  });
  metrics.choices.branches = [...new Set([...metrics.choices.branches, ...history.branches])].sort();
  const policy = autonomyPolicy(pipeline);
  const stages = effectiveAutonomy(pipeline, history.decisions);
  const evidence = autonomyEvidence(history.facts, pipeline, policy);
  return {
    metrics,
    autonomy: { stages, evidence, recommendations: recommendations(evidence, stages, pipeline, policy) },
    lessons: proposeLessons(history.facts, history.decisions),
    history: { branches: history.branches, stats: history.stats, problems: history.problems },
  };
}

export async function teamMetrics(input: TeamHistoryInput, request: MetricsRequest = {}): Promise<MetricsReport & { facts: ChangeFact[] }> {
  const history = await readTeamHistory(input);
  return { ...reportFrom(history, input.pipeline, request), facts: history.facts };
}

// ---------------------------------------------------------------------------------
// Exports

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(4)) : String(value);
  // A cell a spreadsheet would run as a formula is quoted as text.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** The CSV files of an export: the changes (history), per stage and owner, weekly flow and signal. */
export function metricsCsv(report: MetricsReport): Record<'changes' | 'stages' | 'weekly', string> {
  const m = report.metrics;
  return {
    changes: toCsv(
      ['id', 'title', 'ticket', 'branch', 'branches', 'author', 'state', 'stage', 'waitingFor', 'createdAt', 'lastEventAt', 'leadTimeHours', 'attempts', 'costUsd', 'signal'],
      m.rows.map((r) => [r.id, r.title, r.ticket, r.branch, r.branches.join(' '), r.author, r.state, r.stage, r.waitingFor, iso(r.createdAt), iso(r.lastEventAt), r.leadTimeMs !== undefined ? r.leadTimeMs / 3_600_000 : undefined, r.attempts, r.costUsd, r.signal]),
    ),
    stages: toCsv(
      ['stage', 'owner', 'backend', 'visits', 'attempts', 'decided', 'firstPass', 'firstPassRate', 'retries', 'sendBacks', 'rollbacks', 'medianHours', 'p90Hours', 'workHours', 'personWaitHours', 'costUsd', 'tokens', ...FAILURE_KINDS],
      [...m.stages, ...m.stageOwners].map((s) => [
        s.stageId,
        s.owner,
        s.backend,
        s.visits,
        s.attempts,
        s.decided,
        s.firstPass,
        s.firstPassRate,
        s.retries,
        s.sendBacks,
        s.rollbacks,
        s.timeInStage.median !== undefined ? s.timeInStage.median / 3_600_000 : undefined,
        s.timeInStage.p90 !== undefined ? s.timeInStage.p90 / 3_600_000 : undefined,
        s.workMs / 3_600_000,
        s.personWaitMs / 3_600_000,
        s.costUsd,
        s.tokens,
        ...FAILURE_KINDS.map((k) => s.failures[k] ?? 0),
      ]),
    ),
    weekly: toCsv(
      ['week', 'started', 'done', 'leadTimeMedianHours', 'signalKept', 'signalBroken', 'signalShare'],
      m.flow.weekly.map((w, i) => {
        const s = m.signal.weekly[i];
        return [w.week, w.started, w.done, w.leadTimeMedianMs !== undefined ? w.leadTimeMedianMs / 3_600_000 : undefined, s?.kept, s?.recreated, s?.share];
      }),
    ),
  };
}

/** The JSON export: the numbers and the history they come from. */
export function metricsJson(report: MetricsReport & { facts?: ChangeFact[] }): string {
  return JSON.stringify({ format: 'factory-cockpit-metrics', version: 1, ...report }, null, 2);
}

/** A plain-text table of the headline and per-stage numbers (the CLI's default). */
export function metricsTable(report: MetricsReport): string {
  const m = report.metrics;
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x * 100)}%`);
  const hours = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 3_600_000).toFixed(1)}h`);
  const lines = [
    `Changes: ${m.changes}   Signal: ${pct(m.headline.signalShare)} (${m.signal.kept} kept, ${m.signal.recreated} re-created, ${m.signal.unverified} unverified, ${m.signal.incomplete} not through)`,
    `First pass: ${pct(m.headline.firstPassRate)}   Throughput last week: ${m.headline.throughputLastWeek}   Lead time (median): ${hours(m.headline.leadTimeMedianMs)}   WIP: ${m.headline.wip}   Stuck: ${m.headline.stuck}`,
    '',
  ];
  const header = ['stage', 'owner', 'visits', 'attempts', 'first pass', 'retries', 'sent back', 'rolled back', 'median', 'p90', 'cost'];
  // Stage ids and owners come from the record: escaped, so a terminal shows them as text.
  const rows = [...m.stages, ...m.stageOwners].map((s) => [terminalText(s.stageId), terminalText(s.owner), String(s.visits), String(s.attempts), pct(s.firstPassRate), String(s.retries), String(s.sendBacks), String(s.rollbacks), hours(s.timeInStage.median), hours(s.timeInStage.p90), `$${s.costUsd.toFixed(2)}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  lines.push(header.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  return lines.join('\n') + '\n';
}

// What the dashboard's host (ui/) needs from core, through the engine.
export { parseDashboardHostMessage, parseDashboardWebviewMessage } from '../core/dashboardProtocol';
