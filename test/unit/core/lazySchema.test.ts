// The record's zod schemas are built on first use: loading core/events.ts and
// core/pipeline.ts builds none, and each exported schema still is, to every caller, the schema.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as z from 'zod';
import { lazy, lazyEach } from '../../../src/core/lazySchema';
import { ContextItemSchema, EventPayloads, EvidenceRefSchema, KNOWN_EVENT_TYPES, UlidSchema } from '../../../src/core/events';
import { PipelineSchema, StageSchema } from '../../../src/core/pipeline';

const repo = join(__dirname, '..', '..', '..');

/**
 * How many zod schemas a fresh process builds loading both modules, then at each step
 * (zod installs `_zod` on every schema it makes).
 */
function schemasBuilt(steps: string[]): number[] {
  const script = `
    const define = Object.defineProperty;
    let built = 0;
    Object.defineProperty = function (o, k, d) { if (k === '_zod') built++; return define.call(this, o, k, d); };
    require('zod');
    const counts = [];
    let last = built;
    const step = (run) => { run(); counts.push(built - last); last = built; };
    const events = require('./src/core/events.ts');
    const pipeline = require('./src/core/pipeline.ts');
    counts.push(built - last); last = built;
    ${steps.map((s) => `step(() => { ${s} });`).join('\n')}
    console.log(JSON.stringify(counts));`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repo, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as number[];
}

describe('zod schemas built on first use', function () {
  this.timeout(60_000);

  it('loading core/events.ts and core/pipeline.ts builds none, nor does checking a valid event (its checks are generated)', () => {
    const event = { v: 1, id: '01J0000000000000000000000A', change: 'c', type: 'change.completed', at: '2026-01-01T00:00:00Z', data: {} };
    const [atLoad, oneEvent, allPayloads, pipeline] = schemasBuilt([
      `if (!events.validateEvent(${JSON.stringify(event)}).ok) throw new Error('invalid');`,
      'for (const type of events.KNOWN_EVENT_TYPES) events.EventPayloads[type]._zod;',
      `if (!pipeline.PipelineSchema.safeParse(${JSON.stringify({ version: 1, stages: [{ id: 'a', title: 'A', owner: { backend: 'human' } }] })}).success) throw new Error('invalid');`,
    ]);
    assert.equal(atLoad, 0);
    assert.equal(oneEvent, 0, 'a valid event is checked by the generated checks (core/eventChecks.generated.ts)');
    assert.ok(allPayloads! > 0, `every payload's schema built ${allPayloads}`);
    assert.ok(pipeline! > 0, 'the pipeline schemas wait for their first use');
  });

  it('builds a value once, on the first operation on its stand-in', () => {
    let builds = 0;
    const value = lazy(() => {
      builds++;
      return Object.assign(Object.create({ inherited: 1 }) as { inherited: number }, { own: 2 });
    });
    assert.equal(builds, 0);
    assert.equal(value.own, 2);
    assert.equal(value.inherited, 1);
    assert.deepEqual(Object.keys(value), ['own']);
    assert.ok('inherited' in value);
    assert.equal(builds, 1);
    let each = 0;
    const values = lazyEach({ a: () => ({ n: ++each }), b: () => ({ n: ++each }) });
    assert.deepEqual(Object.keys(values), ['a', 'b']);
    assert.equal(values.b.n, 1);
    assert.equal(each, 1);
  });

  it('stands in for the schema everywhere: checks, parsing, composition, introspection', () => {
    assert.ok(PipelineSchema instanceof z.ZodType);
    assert.ok(StageSchema instanceof z.ZodObject);
    assert.ok(EvidenceRefSchema instanceof z.ZodObject);
    assert.deepEqual(Object.keys(EventPayloads), KNOWN_EVENT_TYPES);
    assert.equal(UlidSchema.safeParse('not a ulid').success, false);
    const ref = { sha256: 'a'.repeat(64), name: 'log.txt' };
    assert.deepEqual(z.array(EvidenceRefSchema).parse([ref]), [ref]);
    assert.deepEqual(EvidenceRefSchema.optional().parse(undefined), undefined);
    const item = { id: 'i', kind: 'file', title: 't', source: { path: 'a.ts' }, contentHash: 'b'.repeat(64), tokens: 1, content: ref };
    assert.deepEqual(z.object({ items: z.array(ContextItemSchema) }).parse({ items: [item] }), { items: [{ ...item, pinned: false }] });
    assert.deepEqual(z.toJSONSchema(EvidenceRefSchema), z.toJSONSchema(z.looseObject(EvidenceRefSchema.shape)));
  });
});
