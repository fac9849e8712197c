// Flow learning: recurring failure reasons per stage (agent failures, failed criteria,
// send-back notes) proposed as lessons with their examples. A lead promotes one into
// the project's conventions; the promotion is an event, and the dashboard counts
// failures of that kind before and after it.
import type { FactoryEvent } from './events';
import { isEvent } from './events';
import type { ChangeFact, FailureKind } from './metricsTypes';

export interface Lesson {
  /** Stable id: stage + normalised reason. */
  id: string;
  stageId: string;
  kind: FailureKind;
  /** The reason as first seen. */
  text: string;
  count: number;
  examples: { changeId: string; reason: string; at?: number }[];
  promoted?: { at: string; by?: string; target: string; before: number; after: number };
}

/** Reasons that differ only in numbers, hashes, quotes or case are one reason. */
export function normaliseReason(reason: string): string {
  return reason
    .toLowerCase()
    .replace(/[0-9a-f]{7,}/g, '#')
    .replace(/\d+(\.\d+)?/g, 'n')
    .replace(/['"`]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 120);
}

function slug(text: string): string {
  return text.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'reason';
}

/** Lessons: reasons recurring at least `minCount` times, most frequent first. */
export function proposeLessons(facts: readonly ChangeFact[], decisions: readonly FactoryEvent[] = [], minCount = 2): Lesson[] {
  const groups = new Map<string, Lesson>();
  // Failures repeat a few reasons many times: each distinct reason is normalised once.
  const slugs = new Map<string, string>();
  for (const c of facts) {
    for (const f of c.failures) {
      if (!f.reason || f.kind === 'cancelled') continue;
      let reasonSlug = slugs.get(f.reason);
      if (reasonSlug === undefined) slugs.set(f.reason, (reasonSlug = slug(normaliseReason(f.reason))));
      const id = `${f.stageId}-${reasonSlug}`;
      let lesson = groups.get(id);
      if (!lesson) groups.set(id, (lesson = { id, stageId: f.stageId, kind: f.kind, text: f.reason, count: 0, examples: [] }));
      lesson.count++;
      if (lesson.examples.length < 5) lesson.examples.push({ changeId: c.id, reason: f.reason, ...(f.at !== undefined ? { at: f.at } : {}) });
    }
  }
  const promotions = decisions.filter((e) => isEvent(e, 'lesson.promoted'));
  const all = [...groups.values()];
  for (const p of promotions) {
    if (!isEvent(p, 'lesson.promoted')) continue;
    let lesson = all.find((l) => l.id === p.data.lessonId);
    if (!lesson) {
      lesson = { id: p.data.lessonId, stageId: p.data.stageId ?? '', kind: (p.data.kind as FailureKind) ?? 'sentBack', text: p.data.text, count: 0, examples: [] };
      all.push(lesson);
    }
    const at = Date.parse(p.at);
    // Failures of that kind at that stage, before and after the promotion.
    let before = 0;
    let after = 0;
    for (const c of facts)
      for (const f of c.failures) {
        if (f.stageId !== lesson.stageId || f.kind !== lesson.kind || f.at === undefined) continue;
        if (f.at < at) before++;
        else after++;
      }
    lesson.promoted = { at: p.at, ...(p.by?.name ? { by: p.by.name } : {}), target: p.data.target, before, after };
  }
  return all.filter((l) => l.count >= minCount || l.promoted).sort((a, b) => Number(!!a.promoted) - Number(!!b.promoted) || b.count - a.count);
}
