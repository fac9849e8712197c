import { strict as assert } from 'node:assert';
import { defaultPipeline, PipelineSchema } from '../../../src/core/pipeline';
import { pipelineJsonSchema } from '../../../src/core/pipelineJsonSchema';
import { describeUnknownKey, unknownPipelineKeys } from '../../../src/core/pipelineKeys';

/** The file's JSON, as the tests edit it. */
type Stage = Record<string, unknown> & { owner: Record<string, unknown> };
type Json = Record<string, unknown> & { stages: Stage[] };

/** The default pipeline as a file, with `edit` applied, loaded as the store loads it (the loose schema keeps unknown keys). */
function loaded(edit: (file: Json) => void): unknown {
  const file = JSON.parse(JSON.stringify(defaultPipeline())) as Json;
  edit(file);
  return PipelineSchema.parse(file);
}

describe('pipeline.json keys this version does not know', () => {
  it('finds none in the default pipeline, as written and as loaded, nor in $schema', () => {
    assert.deepEqual(unknownPipelineKeys(defaultPipeline()), []);
    assert.deepEqual(unknownPipelineKeys(loaded((f) => (f.$schema = './schema.json'))), []);
  });

  it('names each mistyped key where it is, with the key it probably meant, at every level', () => {
    const found = unknownPipelineKeys(
      loaded((f) => {
        f.budjet = { tokens: 1 };
        f.stages[1]!.verfication = [];
        f.stages[1]!.retyr = { maxAttempts: 2 };
        f.stages[0]!.owner.modle = 'x';
        f.stages[1]!.retry = { maxAttemps: 2 };
        f.stages[2]!.verification = [{ id: 'unit', title: 'Unit', kind: 'command', argv: ['npm', 'test'], timeoutMS: 1000 }];
        f.stages[2]!.somethingNew = true;
      }),
    );
    const byPath = Object.fromEntries(found.map((k) => [k.path, k.suggestion ?? null]));
    assert.deepEqual(byPath, {
      budjet: 'budget',
      'stages[0].owner.modle': 'model',
      'stages[1].verfication': 'verification',
      'stages[1].retyr': 'retry',
      'stages[1].retry.maxAttemps': 'maxAttempts',
      'stages[2].verification[0].timeoutMS': 'timeoutMs',
      'stages[2].somethingNew': null,
    });
    assert.equal(describeUnknownKey(found.find((k) => k.key === 'verfication')!), 'stages[1].verfication: "verfication" is not a key this version knows, so it is ignored (did you mean "verification"?)');
  });

  it('reads a criterion against the shape of its kind', () => {
    // `reports` belongs to a test report criterion, not to a command one.
    const found = unknownPipelineKeys(loaded((f) => (f.stages[2]!.verification = [{ id: 'unit', title: 'Unit', kind: 'command', argv: ['npm', 'test'], reports: ['x.xml'] }])));
    assert.deepEqual(found.map((k) => k.path), ['stages[2].verification[0].reports']);
  });

  it('closes every object of the editor schema that names its keys, so the editor marks an unknown one', () => {
    const open: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}[${i}]`));
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n.properties && n.additionalProperties !== false) open.push(at || '(root)');
      for (const [key, value] of Object.entries(n)) walk(value, `${at}/${key}`);
    };
    walk(pipelineJsonSchema(), '');
    assert.deepEqual(open, []);
  });
});
