// The JSON schema VS Code uses for .factory/pipeline.json, derived from the zod
// schema so the two cannot disagree. Its objects are closed (no other keys) although
// the product keeps unknown keys (pipelineKeys.ts): the editor then marks a mistyped
// key where it is, as a warning, instead of letting it be ignored without a word.
import * as z from 'zod';
import { PipelineSchema } from './pipeline';

export function pipelineJsonSchema(): Record<string, unknown> {
  return {
    ...(closeObjects(z.toJSONSchema(PipelineSchema, { io: 'input', unrepresentable: 'any' })) as Record<string, unknown>),
    title: 'Factory Cockpit pipeline',
    description: 'The stages a change goes through: owner, prompt, outputs, verification, retries, autonomy and budget.',
  };
}

/** Every object schema with named properties accepts no other key (free-form maps, which name none, stay open). */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = closeObjects(value);
  if (out.properties && typeof out.additionalProperties === 'object' && out.additionalProperties !== null && Object.keys(out.additionalProperties).length === 0) out.additionalProperties = false;
  return out;
}
