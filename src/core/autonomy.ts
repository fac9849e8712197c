// Autonomy earned from evidence: for each stage and owner, the last N stage visits,
// the first-pass rate with a Wilson confidence interval, send-backs and rollbacks; a
// recommendation to grant auto-advance when the interval's lower bound over at least
// N visits passes the threshold, or to revoke it after a failure pattern. The policy
// is the pipeline's (`autonomyPolicy`, each stage's `maxAutonomy` and risk paths); the
// lead's grants and revocations (events) set each stage's effective autonomy within it.
import type { FactoryEvent } from './events';
import { isEvent } from './events';
import type { ChangeFact } from './metricsTypes';
import type { Pipeline } from './pipeline';

export interface AutonomyPolicy {
  /** Lower bound of the first-pass interval needed to grant auto-advance. */
  threshold: number;
  /** Fewest decided visits before any grant. */
  minSample: number;
  /** How many recent visits the evidence looks at. */
  window: number;
  /** z for the interval (1.96: 95 %). */
  z: number;
  /** Revoke after this many send-backs (or rollbacks) ... */
  revokeSendBacks: number;
  /** ... in the last this many visits. */
  revokeWindow: number;
}

export const DEFAULT_AUTONOMY_POLICY: AutonomyPolicy = { threshold: 0.7, minSample: 10, window: 20, z: 1.96, revokeSendBacks: 2, revokeWindow: 5 };

/** The policy of a pipeline: its `autonomyPolicy` over the defaults. */
export function autonomyPolicy(pipeline: Pipeline): AutonomyPolicy {
  const raw = (pipeline as { autonomyPolicy?: Partial<AutonomyPolicy> }).autonomyPolicy ?? {};
  return { ...DEFAULT_AUTONOMY_POLICY, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => typeof v === 'number')) };
}

/** Wilson score interval for `successes` of `n` (0..1); [0, 1] when n is 0. */
export function wilson(successes: number, n: number, z = 1.96): { low: number; high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const denominator = 1 + z2 / n;
  return { low: Math.max(0, (centre - margin) / denominator), high: Math.min(1, (centre + margin) / denominator) };
}

export interface AutonomyEvidence {
  stageId: string;
  owner: string;
  /** Decided visits looked at (newest last), at most the policy's window. */
  visits: { changeId: string; firstPass: boolean; sentBack: boolean; rolledBack: boolean; at?: number }[];
  n: number;
  firstPass: number;
  rate?: number;
  interval: { low: number; high: number };
  sendBacks: number;
  rollbacks: number;
  /** Send-backs and rollbacks in the last `revokeWindow` visits. */
  recentFailures: number;
}

export type Autonomy = 'auto' | 'approve';

export interface StageAutonomy {
  stageId: string;
  /** What pipeline.json says. */
  configured: Autonomy;
  /** The most the pipeline allows (`maxAutonomy`, default `auto`). */
  limit: Autonomy;
  /** After the lead's grants and revocations, clamped to the limit. */
  effective: Autonomy;
  /** Why, in a sentence. */
  why: string;
  /** The decision that set it, when one did. */
  decision?: { type: string; by?: string; at: string; owner?: string };
  /** Paths where this stage never auto-advances. */
  riskPaths: string[];
}

export interface Recommendation {
  stageId: string;
  owner: string;
  action: 'grant' | 'revoke';
  why: string;
  evidence: AutonomyEvidence;
}

/** Evidence per stage and owner, from the facts of every change (visits in time order). */
export function autonomyEvidence(facts: readonly ChangeFact[], pipeline: Pipeline, policy = autonomyPolicy(pipeline)): AutonomyEvidence[] {
  // stage → owner → visits (nested: no key string built per visit); `groups` keeps their first-seen order.
  const index = new Map<string, Map<string, AutonomyEvidence['visits']>>();
  const groups: { stageId: string; owner: string; visits: AutonomyEvidence['visits'] }[] = [];
  for (const c of facts) {
    for (const s of c.stages) {
      if (s.firstPass === undefined) continue;
      let owners = index.get(s.stageId);
      if (!owners) index.set(s.stageId, (owners = new Map()));
      let list = owners.get(s.owner);
      if (!list) {
        owners.set(s.owner, (list = []));
        groups.push({ stageId: s.stageId, owner: s.owner, visits: list });
      }
      const visit: AutonomyEvidence['visits'][number] = { changeId: c.id, firstPass: s.firstPass, sentBack: s.sendBacks > 0, rolledBack: s.rollbacks > 0 };
      if (s.startedAt !== undefined) visit.at = s.startedAt;
      list.push(visit);
    }
  }
  const order = pipeline.stages.map((s) => s.id);
  return groups
    .map(({ stageId, owner, visits: all }) => {
      const visits = all.sort((a, b) => (a.at ?? 0) - (b.at ?? 0)).slice(-policy.window);
      const firstPass = visits.filter((v) => v.firstPass).length;
      const recent = visits.slice(-policy.revokeWindow);
      return {
        stageId,
        owner,
        visits,
        n: visits.length,
        firstPass,
        ...(visits.length ? { rate: firstPass / visits.length } : {}),
        interval: wilson(firstPass, visits.length, policy.z),
        sendBacks: visits.filter((v) => v.sentBack).length,
        rollbacks: visits.filter((v) => v.rolledBack).length,
        recentFailures: recent.filter((v) => v.sentBack || v.rolledBack).length,
      };
    })
    .sort((a, b) => order.indexOf(a.stageId) - order.indexOf(b.stageId) || a.owner.localeCompare(b.owner));
}

/** Each stage's effective autonomy: the latest grant or revocation, within the pipeline's limit. */
export function effectiveAutonomy(pipeline: Pipeline, decisions: readonly FactoryEvent[]): StageAutonomy[] {
  const latest = new Map<string, FactoryEvent>();
  for (const e of [...decisions].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (isEvent(e, 'autonomy.granted') || isEvent(e, 'autonomy.revoked')) latest.set(e.data.stageId, e);
  }
  return pipeline.stages.map((stage) => {
    const extra = stage as { maxAutonomy?: string; neverAutoWhenTouching?: string[] };
    const configured: Autonomy = stage.autonomy === 'auto' ? 'auto' : 'approve';
    const limit: Autonomy = extra.maxAutonomy === 'approve' ? 'approve' : 'auto';
    const decision = latest.get(stage.id);
    const decided: Autonomy | undefined = decision ? (decision.type === 'autonomy.granted' ? 'auto' : 'approve') : undefined;
    const wanted = decided ?? configured;
    const effective: Autonomy = limit === 'approve' ? 'approve' : wanted;
    const by = decision?.by?.name;
    const why =
      wanted === 'auto' && limit === 'approve'
        ? 'pipeline.json caps this stage at approve (maxAutonomy)'
        : decision
          ? `${decision.type === 'autonomy.granted' ? 'granted' : 'revoked'} by ${by ?? 'someone'} on ${decision.at.slice(0, 10)}${(decision.data as { note?: string }).note ? `: ${(decision.data as { note?: string }).note}` : ''}`
          : `as configured in pipeline.json (${configured})`;
    return {
      stageId: stage.id,
      configured,
      limit,
      effective,
      why,
      ...(decision ? { decision: { type: decision.type, ...(by ? { by } : {}), at: decision.at, ...((decision.data as { owner?: string }).owner ? { owner: (decision.data as { owner?: string }).owner } : {}) } } : {}),
      riskPaths: extra.neverAutoWhenTouching ?? [],
    };
  });
}

/** What the lead could decide now: grants the evidence supports, revocations a failure pattern calls for. */
export function recommendations(evidence: readonly AutonomyEvidence[], stages: readonly StageAutonomy[], pipeline: Pipeline, policy = autonomyPolicy(pipeline)): Recommendation[] {
  const out: Recommendation[] = [];
  for (const stage of stages) {
    const candidates = evidence.filter((e) => e.stageId === stage.stageId);
    const owner = currentOwner(pipeline, stage.stageId);
    for (const e of candidates) {
      if (owner && e.owner !== owner) continue;
      const pct = (x: number) => `${Math.round(x * 100)} %`;
      if (stage.effective === 'approve' && stage.limit === 'auto' && e.n >= policy.minSample && e.interval.low >= policy.threshold && e.recentFailures < policy.revokeSendBacks) {
        out.push({ stageId: stage.stageId, owner: e.owner, action: 'grant', evidence: e, why: `${e.firstPass} of the last ${e.n} passed first time; the 95 % interval starts at ${pct(e.interval.low)} ≥ ${pct(policy.threshold)}` });
      } else if (stage.effective === 'auto' && e.recentFailures >= policy.revokeSendBacks) {
        out.push({ stageId: stage.stageId, owner: e.owner, action: 'revoke', evidence: e, why: `${e.recentFailures} send-backs or rollbacks in the last ${Math.min(policy.revokeWindow, e.n)} visits` });
      }
    }
  }
  return out;
}

function currentOwner(pipeline: Pipeline, stageId: string): string | undefined {
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) return undefined;
  const o = stage.owner;
  // A stage whose pipeline owner names no model accepts evidence of any model of that backend.
  return o.backend === 'human' ? undefined : o.model ? `${o.backend}/${o.model}` : undefined;
}

/** Whether a path matches a simple glob (`*` within a segment, `**` across segments). */
export function globMatch(glob: string, file: string): boolean {
  const re = glob
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${re}$`).test(file);
}

/** Whether a stage may auto-advance this change: its effective autonomy, unless the change touches a risk path. */
export function mayAutoAdvance(stage: StageAutonomy, touchedPaths: readonly string[]): { allowed: boolean; why: string } {
  if (stage.effective !== 'auto') return { allowed: false, why: stage.why };
  const hit = touchedPaths.find((p) => stage.riskPaths.some((g) => globMatch(g, p)));
  if (hit) return { allowed: false, why: `the change touches ${hit}, where this stage never auto-advances` };
  return { allowed: true, why: stage.why };
}
