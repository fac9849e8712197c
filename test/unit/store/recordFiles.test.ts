// The record's files: atomic whole files, migrations, unknown fields, .gitignore policy, paths.
import * as assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { FileRecordStore, type RecordProblem } from '../../../src/store/recordStore';
import { migrateToCurrent, type Migration } from '../../../src/store/migrations';
import { resolveInsideWorkspace, OutsideWorkspaceError } from '../../../src/store/paths';
import { FACTORY_GITIGNORE } from '../../../src/store/gitignorePolicy';
import { git, initRepo, tempWorkspace } from './helpers';

const ulid = monotonicFactory();

describe('store: record files', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('record')));
  afterEach(() => ws.cleanup());

  const eventsDir = (change: string) => join(ws.dir, '.factory', 'changes', change, 'events');

  describe('migrations', () => {
    // A fake older format: version 0 called the title "name".
    const v0to1: Migration = {
      from: 0,
      to: 1,
      migrate: (raw) => {
        const data = { ...(raw.data as Record<string, unknown>) };
        data.title = data.name;
        delete data.name;
        return { ...raw, data };
      },
    };
    const writeV0 = () => {
      const id = ulid();
      mkdirSync(eventsDir('old'), { recursive: true });
      writeFileSync(join(eventsDir('old'), `${id}.json`), JSON.stringify({ v: 0, id, change: 'old', type: 'change.created', at: '2020-01-01T00:00:00Z', data: { name: 'Old title' } }));
      return id;
    };

    it('applies the registry on read (fake v0 → v1) without rewriting the file', async () => {
      const id = writeV0();
      const before = readFileSync(join(eventsDir('old'), `${id}.json`), 'utf8');
      const store = new FileRecordStore(ws.dir, { migrations: [v0to1] });
      const record = await store.readChange('old');
      assert.deepEqual(record.problems, []);
      assert.equal(record.events[0]?.v, 1);
      assert.equal(record.events[0]?.data.title, 'Old title');
      assert.equal(readFileSync(join(eventsDir('old'), `${id}.json`), 'utf8'), before);
    });

    it('reports and quarantines a version no migration reads', async () => {
      writeV0();
      const record = await new FileRecordStore(ws.dir).readChange('old');
      assert.equal(record.problems.length, 1);
      assert.equal(record.problems[0]?.field, 'v');
      assert.match(record.problems[0]!.message, /no migration reads it/);
    });

    it('refuses a registry that does not move forward, and reports a migration that throws', () => {
      assert.equal(migrateToCurrent({ v: 0 }, [{ from: 0, to: 0, migrate: (r) => r }]).ok, false);
      const thrown = migrateToCurrent({ v: 0 }, [{ from: 0, to: 1, migrate: () => { throw new Error('boom'); } }]);
      assert.ok(!thrown.ok && /boom/.test(thrown.message));
    });
  });

  it('keeps unknown fields of a newer writer, in the envelope and the payload', async () => {
    const id = ulid();
    mkdirSync(eventsDir('new'), { recursive: true });
    writeFileSync(
      join(eventsDir('new'), `${id}.json`),
      JSON.stringify({ v: 1, id, change: 'new', type: 'change.created', at: '2026-01-01T00:00:00Z', signature: 'abc', data: { title: 'T', labels: ['x'] } }),
    );
    const newer = ulid();
    writeFileSync(join(eventsDir('new'), `${newer}.json`), JSON.stringify({ v: 7, id: newer, change: 'new', type: 'change.created', at: '2026-01-01T00:00:00Z', data: { whatever: 1 } }));
    const record = await new FileRecordStore(ws.dir).readChange('new');
    assert.deepEqual(record.problems, []);
    assert.equal(record.events[0]?.signature, 'abc');
    assert.deepEqual(record.events[0]?.data.labels, ['x']);
    assert.equal(record.events[1]?.v, 7, 'a newer version is kept as it is');
  });

  it('writes each event once, exclusively, and never leaves temp files behind', async () => {
    const store = new FileRecordStore(ws.dir);
    const a = await store.append('c1', { type: 'change.created', data: { title: 'One' } });
    const b = await store.append('c1', { type: 'change.completed', data: {} });
    assert.ok(a.id < b.id);
    assert.deepEqual(readdirSync(eventsDir('c1')).sort(), [`${a.id}.json`, `${b.id}.json`]);
    assert.deepEqual(JSON.parse(readFileSync(join(eventsDir('c1'), `${a.id}.json`), 'utf8')), a);
  });

  it('writes .factory/.gitignore on first use, keeps a user-edited one, and git ignores temp files only (the index is outside)', async () => {
    initRepo(ws.dir);
    const store = new FileRecordStore(ws.dir);
    await store.append('c1', { type: 'change.created', data: { title: 'One' } });
    const ignore = join(ws.dir, '.factory', '.gitignore');
    assert.equal(readFileSync(ignore, 'utf8'), FACTORY_GITIGNORE);
    await store.summaries();
    writeFileSync(join(eventsDir('c1'), '.01ABC.json.123.abc.tmp'), 'partial');
    writeFileSync(join(ws.dir, '.factory', 'pipeline.json.123456'), 'partial');
    const status = git(ws.dir, 'status', '--porcelain', '--untracked-files=all', '--ignored').split('\n');
    assert.ok(status.some((l) => l.startsWith('?? .factory/changes/c1/events/') && l.endsWith('.json')), 'events are committed');
    assert.ok(!existsSync(join(ws.dir, '.factory', '.cache')), 'the index is not in the repository');
    assert.ok(existsSync(store.indexPath) && !store.indexPath.startsWith(ws.dir), 'it is in the per-user cache');
    assert.ok(status.includes('!! .factory/changes/c1/events/.01ABC.json.123.abc.tmp'), 'temp files are ignored');
    assert.ok(status.includes('!! .factory/pipeline.json.123456'), "write-file-atomic's temp files are ignored");

    writeFileSync(ignore, '# mine\n');
    await new FileRecordStore(ws.dir).append('c1', { type: 'change.completed', data: {} });
    assert.equal(readFileSync(ignore, 'utf8'), '# mine\n');
  });

  it('quarantines under a fresh name when a file of that name was quarantined before', async () => {
    const problems: RecordProblem[] = [];
    const store = new FileRecordStore(ws.dir, { onProblem: (p) => problems.push(p) });
    for (let round = 0; round < 2; round++) {
      mkdirSync(eventsDir('q'), { recursive: true });
      writeFileSync(join(eventsDir('q'), 'bad.json'), `{ round ${round}`);
      await store.readChange('q');
    }
    assert.equal(problems.length, 2);
    assert.notEqual(problems[0]?.quarantinedTo, problems[1]?.quarantinedTo);
    assert.equal(readFileSync(join(ws.dir, problems[0]!.quarantinedTo!), 'utf8'), '{ round 0');
    assert.equal(readFileSync(join(ws.dir, problems[1]!.quarantinedTo!), 'utf8'), '{ round 1');
  });

  describe('resolveInsideWorkspace', () => {
    it('resolves paths inside, existing or not', () => {
      mkdirSync(join(ws.dir, 'src'));
      assert.equal(resolveInsideWorkspace(ws.dir, 'src/a.ts'), join(ws.dir, 'src', 'a.ts'));
      assert.equal(resolveInsideWorkspace(ws.dir, 'new/deep/file.txt'), join(ws.dir, 'new', 'deep', 'file.txt'));
      assert.equal(resolveInsideWorkspace(ws.dir, 'src/../README.md'), join(ws.dir, 'README.md'));
    });

    it('rejects .., absolute paths, NUL bytes and symbolic links out', () => {
      const outside = tempWorkspace('outside');
      symlinkSync(outside.dir, join(ws.dir, 'out'));
      symlinkSync(join(outside.dir, 'missing'), join(ws.dir, 'dangling'));
      const cases: Array<[string, RegExp]> = [
        ['../x', /climbs out/],
        ['a/../../x', /climbs out/],
        ['..\\..\\x', /climbs out/],
        ['/etc/passwd', /absolute/],
        ['C:\\Windows\\x', /absolute/],
        ['\\\\server\\share', /absolute/],
        ['a\0b', /NUL/],
        ['', /empty/],
        ['out/secret', /symbolic link leads outside/],
        ['out', /symbolic link leads outside/],
        ['dangling', /leads nowhere/],
      ];
      for (const [rel, why] of cases) {
        assert.throws(() => resolveInsideWorkspace(ws.dir, rel), (e: unknown) => e instanceof OutsideWorkspaceError && why.test(e.message), rel);
      }
      assert.ok(!existsSync(join(outside.dir, 'secret')));
      outside.cleanup();
    });
  });
});
