// The JSON schema VS Code uses for .factory/pipeline.json, derived from the zod
// schema so the two cannot disagree.
import * as z from 'zod';
import { PipelineSchema } from './pipeline';

export function pipelineJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PipelineSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Factory Cockpit pipeline',
    description: 'The stages a change goes through: owner, prompt, outputs, verification, retries, autonomy and budget.',
  };
}
