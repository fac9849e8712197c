// Writes schemas/pipeline.schema.json from the zod schema in src/core/pipeline.ts,
// so editing .factory/pipeline.json gets completion and validation in VS Code.
// A unit test fails when the committed file and the zod schema drift apart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineJsonSchema } from '../src/core/pipelineJsonSchema';

const target = join(__dirname, '..', 'schemas', 'pipeline.schema.json');
writeFileSync(target, `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
