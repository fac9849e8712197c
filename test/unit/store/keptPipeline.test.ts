// pipeline.json validated once per build and text: a later process (another store) takes
// the validated pipeline from the per-user cache; anything else validates as before.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRecordStore, type RecordProblem } from '../../../src/store/recordStore';
import { defaultPipeline, type Pipeline } from '../../../src/core/pipeline';
import { keptPipelineIn, repositoryCacheDir } from '../../../src/store/cacheDir';
import { tempWorkspace } from './helpers';

describe('store: pipeline.json validated once per build', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  let cacheDir: string;
  beforeEach(() => {
    ws = tempWorkspace('kept');
    cacheDir = mkdtempSync(join(tmpdir(), 'fc-kept-cache-'));
    mkdirSync(join(ws.dir, '.factory'));
  });
  afterEach(() => {
    rmSync(cacheDir, { recursive: true, force: true });
    ws.cleanup();
  });

  const BUILD = '1.2.3+abc';
  const store = (options: { build?: string } = { build: BUILD }) => new FileRecordStore(ws.dir, { cacheDir, ...options });
  const keptFile = () => keptPipelineIn(repositoryCacheDir(ws.dir, cacheDir));
  const writePipeline = (text: string) => writeFileSync(join(ws.dir, '.factory', 'pipeline.json'), text);
  // What a user writes: no defaults filled in, so the validated pipeline differs from the file.
  const USER_TEXT = JSON.stringify({ version: 1, stages: [{ id: 'build', title: 'Build', owner: { backend: 'human' }, verification: [{ id: 'ok', kind: 'command', argv: ['true'] }] }], extra: { kept: true } }, null, 2);
  /** A pipeline no validation of USER_TEXT gives: read back only from a kept entry. */
  const planted = (): Pipeline => ({ ...defaultPipeline(), budget: { turns: 7 } });
  const plant = (entry: unknown) => {
    mkdirSync(repositoryCacheDir(ws.dir, cacheDir), { recursive: true });
    writeFileSync(keptFile(), typeof entry === 'string' ? entry : JSON.stringify(entry));
  };

  it('keeps the validated pipeline, keyed by the text and the build, outside the repository', async () => {
    writePipeline(USER_TEXT);
    const validated = await store().loadPipeline();
    assert.ok(validated.pipeline);
    assert.deepEqual(validated.problems, []);
    const kept = JSON.parse(readFileSync(keptFile(), 'utf8'));
    assert.deepEqual(kept, { build: BUILD, text: USER_TEXT, pipeline: validated.pipeline });
    // Another process of the build: the same pipeline, defaults and unknown fields included.
    const again = await store().loadPipeline();
    assert.deepEqual(again, validated);
    assert.equal(JSON.stringify(again.pipeline), JSON.stringify(validated.pipeline), 'byte for byte');
  });

  it('takes a kept entry of this build and text without validating', async () => {
    writePipeline(USER_TEXT);
    plant({ build: BUILD, text: USER_TEXT, pipeline: planted() });
    assert.deepEqual((await store().loadPipeline()).pipeline, planted());
  });

  for (const [name, entry] of [
    ['another build', { build: '1.2.4+def', text: USER_TEXT, pipeline: planted() }],
    ['another text', { build: BUILD, text: `${USER_TEXT}\n`, pipeline: planted() }],
    ['a torn entry', JSON.stringify({ build: BUILD, text: USER_TEXT, pipeline: planted() }).slice(0, 100)],
    ['a foreign entry', { build: BUILD, text: USER_TEXT, pipeline: [1] }],
    ['an entry that is not an object', 'null'],
  ] as const) {
    it(`validates again on ${name}, and keeps the new validation`, async () => {
      writePipeline(USER_TEXT);
      plant(entry);
      const load = await store().loadPipeline();
      assert.equal(load.pipeline?.stages[0]?.id, 'build');
      assert.deepEqual(load.pipeline, (await store({ build: undefined }).loadPipeline()).pipeline);
      assert.deepEqual(JSON.parse(readFileSync(keptFile(), 'utf8')), { build: BUILD, text: USER_TEXT, pipeline: load.pipeline });
    });
  }

  it('reports an invalid pipeline.json exactly as without a cache, and keeps nothing of it', async () => {
    writePipeline(USER_TEXT);
    await store().loadPipeline();
    const keptBefore = readFileSync(keptFile(), 'utf8');
    for (const text of ['{"version": 1, "stages": []}', '{"version": 1,', JSON.stringify({ version: 1, stages: [{ id: 'a', title: 'A', owner: { backend: 'human' } }, { id: 'a', title: 'A', owner: { backend: 'human' } }] })]) {
      writePipeline(text);
      const seen: RecordProblem[] = [];
      const load = await new FileRecordStore(ws.dir, { cacheDir, build: BUILD, onProblem: (p) => seen.push(p) }).loadPipeline();
      const fromSource = await store({ build: undefined }).loadPipeline();
      assert.equal(load.pipeline, undefined, text);
      assert.ok(load.problems.length > 0, text);
      assert.deepEqual(load, fromSource, text);
      assert.deepEqual(seen, load.problems, 'reported as before');
      assert.equal(readFileSync(keptFile(), 'utf8'), keptBefore, 'an invalid text is never kept');
    }
  });

  it('validates as before when the cache folder cannot be written', async () => {
    writePipeline(USER_TEXT);
    // A file where the cache folder belongs: nothing can be made below it.
    const blocked = join(cacheDir, 'a-file');
    writeFileSync(blocked, '');
    for (let i = 0; i < 2; i++) {
      const load = await new FileRecordStore(ws.dir, { cacheDir: blocked, build: BUILD }).loadPipeline();
      assert.equal(load.pipeline?.stages[0]?.id, 'build');
      assert.deepEqual(load.problems, []);
    }
  });

  it('keeps nothing when run from source (no build)', async () => {
    writePipeline(USER_TEXT);
    plant({ build: 'undefined', text: USER_TEXT, pipeline: planted() });
    const load = await store({ build: undefined }).loadPipeline();
    assert.equal(load.pipeline?.stages[0]?.id, 'build');
    assert.equal(JSON.parse(readFileSync(keptFile(), 'utf8')).build, 'undefined', 'left as it was');
  });
});
