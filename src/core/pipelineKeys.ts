// Keys of pipeline.json this version does not know. They are kept, never an error (a
// newer version may use them), but a mistyped optional key ("verfication", "retyr")
// would otherwise be ignored without a word and its stage would verify or retry
// nothing: `doctor` names each one with where it is and the key it probably meant, and
// the editor's schema (pipelineJsonSchema.ts) marks it. Walks the JSON schema derived
// from the zod schema, so the two cannot disagree.
import { nearestName } from './nearestName';
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
      const suggestion = nearestName(key, Object.keys(known));
      found.push(suggestion ? { path, key, suggestion } : { path, key });
    }
  }
}

/** One line for a person: where, and what it probably should be. */
export function describeUnknownKey(k: UnknownPipelineKey): string {
  return `${k.path}: "${k.key}" is not a key this version knows, so it is ignored${k.suggestion ? ` (did you mean "${k.suggestion}"?)` : ''}`;
}
