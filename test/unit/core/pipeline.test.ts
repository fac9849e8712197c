import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPipeline, PipelineSchema } from '../../../src/core/pipeline';
import { firstIssue } from '../../../src/core/events';
import { pipelineJsonSchema } from '../../../src/core/pipelineJsonSchema';

describe('pipeline definition', () => {
  it('has plan, implement, test, review and QA by default, each with an owner', () => {
    const p = defaultPipeline();
    assert.deepEqual(p.stages.map((s) => s.id), ['plan', 'implement', 'test', 'review', 'qa']);
    assert.equal(p.stages[3]!.owner.backend, 'human');
    assert.equal(p.stages[0]!.verification[0]!.kind, 'fileExists');
    assert.equal(p.stages[0]!.retry.maxAttempts, 3);
  });

  it('reports the failing field of a typo', () => {
    const result = PipelineSchema.safeParse({ version: 1, stages: [{ id: 'plan', title: 'Plan', owner: { backend: 'claude-code' }, autonomy: 'sometimes' }] });
    assert.equal(result.success, false);
    const issue = firstIssue(result.error!);
    assert.equal(issue.field, 'stages.0.autonomy');
  });

  it('rejects duplicate stage ids and shell-string commands', () => {
    const dup = PipelineSchema.safeParse({ version: 1, stages: [{ id: 'a', title: 'A', owner: { backend: 'human' } }, { id: 'a', title: 'B', owner: { backend: 'human' } }] });
    assert.equal(firstIssue(dup.error!).field, 'stages.1.id');
    const shell = PipelineSchema.safeParse({ version: 1, stages: [{ id: 'a', title: 'A', owner: { backend: 'human' }, verification: [{ id: 'c', kind: 'command', argv: 'npm test' }] }] });
    assert.equal(firstIssue(shell.error!).field, 'stages.0.verification.0.argv');
  });

  it('keeps unknown fields from a newer version', () => {
    const p = PipelineSchema.parse({ version: 1, futureField: { x: 1 }, stages: [{ id: 'a', title: 'A', owner: { backend: 'human' }, colour: 'red' }] });
    assert.deepEqual((p as Record<string, unknown>).futureField, { x: 1 });
    assert.equal((p.stages[0] as Record<string, unknown>).colour, 'red');
  });

  it('ships a JSON schema for VS Code that matches the zod schema', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'schemas', 'pipeline.schema.json'), 'utf8'));
    assert.deepEqual(committed, JSON.parse(JSON.stringify(pipelineJsonSchema())), 'run `npm run schema` to regenerate schemas/pipeline.schema.json');
  });
});
