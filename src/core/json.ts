// JSON parsing for files that come from the record (and so from any branch anyone
// pushed): prototype-polluting keys are dropped and reported, never assigned.

const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface SafeParseResult {
  value: unknown;
  /** Dotted paths of keys that were dropped. */
  droppedKeys: string[];
}

export function parseJsonSafely(text: string): SafeParseResult {
  const droppedKeys: string[] = [];
  const value: unknown = JSON.parse(text);
  return { value: scrub(value, '', droppedKeys), droppedKeys };
}

function scrub(value: unknown, path: string, dropped: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => scrub(item, path ? `${path}.${i}` : String(i), dropped));
  if (value === null || typeof value !== 'object') return value;
  const clean: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const keyPath = path ? `${path}.${key}` : key;
    if (POLLUTING_KEYS.has(key)) {
      dropped.push(keyPath);
      continue;
    }
    clean[key] = scrub((value as Record<string, unknown>)[key], keyPath, dropped);
  }
  return clean;
}

/** Lowercase, dash-separated, at most `max` characters; never empty. */
export function slugify(text: string, max = 40): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return slug || 'change';
}
