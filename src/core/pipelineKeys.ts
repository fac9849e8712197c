// Keys of pipeline.json this version does not know. They are kept, never an error (a
// newer version may use them), but a mistyped optional key ("verfication", "retyr")
// would otherwise be ignored without a word and its stage would verify or retry
// nothing: `doctor` names each one with where it is and the key it probably meant, and
// the editor's schema (pipelineJsonSchema.ts) marks it. Walks the JSON schema derived
// from the zod schema, so the two cannot disagree.
import { pipelineJsonSchema } from './pipelineJsonSchema';

export interface UnknownPipelineKey {
  /** Where, as a path into the file: `stages[1].verfication`. */
  path: string;
  key: string;
  /** The known key at that place it is closest to, when it is near enough to be a typo. */
  suggestion?: string;
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  const?: unknown;
}

/** The unknown keys of a pipeline (the parsed file, or the loaded pipeline: the loose schema keeps them). */
export function unknownPipelineKeys(pipeline: unknown, schema: object = pipelineJsonSchema()): UnknownPipelineKey[] {
  const found: UnknownPipelineKey[] = [];
  walk(pipeline, schema as SchemaNode, '', found);
  return found;
}

function walk(value: unknown, node: SchemaNode, at: string, found: UnknownPipelineKey[]): void {
  const options = node.oneOf ?? node.anyOf;
  if (options) {
    // A criterion is one of several shapes, told apart by its kind; without one, the shape it fits best.
    const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
    const byKind = options.find((o) => kind !== undefined && o.properties?.kind?.const === kind);
    let best: UnknownPipelineKey[] | undefined;
    for (const option of byKind ? [byKind] : options) {
      const here: UnknownPipelineKey[] = [];
      walk(value, option, at, here);
      if (!best || here.length < best.length) best = here;
    }
    found.push(...(best ?? []));
    return;
  }
  if (Array.isArray(value)) {
    if (node.items) value.forEach((item, i) => walk(item, node.items!, `${at}[${i}]`, found));
    return;
  }
  if (typeof value !== 'object' || value === null || !node.properties) return;
  const known = node.properties;
  for (const [key, child] of Object.entries(value)) {
    const path = at ? `${at}.${key}` : key;
    if (Object.prototype.hasOwnProperty.call(known, key)) walk(child, known[key]!, path, found);
    else {
      const suggestion = nearest(key, Object.keys(known));
      found.push(suggestion ? { path, key, suggestion } : { path, key });
    }
  }
}

/** The known key within a couple of edits of `key` (case aside), if any. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.min(2, Math.floor(key.length / 4)));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of two neighbours. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** One line for a person: where, and what it probably should be. */
export function describeUnknownKey(k: UnknownPipelineKey): string {
  return `${k.path}: "${k.key}" is not a key this version knows, so it is ignored${k.suggestion ? ` (did you mean "${k.suggestion}"?)` : ''}`;
}
