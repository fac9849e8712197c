import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { delimiter, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { changeFacts, mergeEvents } from '../../../src/core/metrics';
import { readTeamHistory } from '../../../src/engine/teamHistory';
import { metricsCsv, metricsJson, reportFrom, teamMetrics } from '../../../src/engine/metrics';
import { FileRecordStore } from '../../../src/store/recordStore';
import { GitObjectReader } from '../../../src/git/gitObjects';
import { GitTreeRecordReader } from '../../../src/store/gitTreeRecord';
import { MAX_EVENT_FILE_BYTES } from '../../../src/store/eventFile';
import { writeSampleHistory, type SampleHistory } from '../../../scripts/sample-history';

describe('team history from git (sample history)', function () {
  this.timeout(180_000);
  let tmp: string;
  let history: SampleHistory;
  const now = Date.parse('2026-11-30T12:00:00Z');

  before(async () => {
    tmp = mkdtempSync(join(os.tmpdir(), 'team-history-'));
    history = await writeSampleHistory(join(tmp, 'repo'), { changes: 24, weeks: 6, branches: 6, now, seed: 7 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const input = (store = new FileRecordStore(history.dir, { cacheDir: join(tmp, 'cache') })) => store.loadPipeline().then(({ pipeline }) => ({ root: history.dir, pipeline: pipeline!, store, useGit: true, cacheRoot: join(tmp, 'cache') }));

  it('reads every change of every local and remote-tracking branch and the working folder, merged by change', async () => {
    const team = await readTeamHistory(await input());
    assert.deepEqual(team.facts.map((f) => f.id).sort(), [...history.changeIds].sort());
    assert.ok(team.branches.some((b) => b.startsWith('origin/')), 'remote-tracking branches are read');
    // The same facts as folding each change's events read one by one from every ref and the working folder.
    const reader = new GitObjectReader(history.dir);
    const refs = await reader.listBranchRefs();
    const store = new FileRecordStore(history.dir, { cacheDir: join(tmp, 'cache') });
    const pipeline = (await store.loadPipeline()).pipeline!;
    for (const fact of team.facts.slice(0, 8)) {
      const sources = [(await store.readChange(fact.id)).events];
      for (const ref of refs) sources.push((await new GitTreeRecordReader(reader, ref).readChange(fact.id)).events);
      const expected = changeFacts(fact.id, pipeline, mergeEvents(sources), { branches: fact.branches });
      assert.equal(fact.eventCount, expected.eventCount, fact.id);
      assert.deepEqual(fact.signal, expected.signal, fact.id);
      assert.deepEqual(fact.stages, expected.stages, fact.id);
    }
    // A merged branch's changes are on main and on their branch: one change, no event twice.
    const twoBranches = team.facts.find((f) => f.branches.includes('main') && f.branches.some((b) => b.startsWith('feature/')));
    assert.ok(twoBranches, 'some change is on main and on its feature branch');
    assert.equal(new Set(twoBranches.branches).size, twoBranches.branches.length);
  });

  it('keeps who committed each decision: the forged approval stands out', async () => {
    const team = await readTeamHistory(await input());
    const forged = team.facts.find((f) => f.id === history.forgedChangeId);
    assert.ok(forged);
    assert.ok(forged.actorMismatches.some((m) => m.type === 'review.decided' && /Mallory/.test(m.committer) && m.actor === 'Lee Lead'));
    const honest = team.facts.filter((f) => f.id !== history.forgedChangeId);
    assert.ok(honest.every((f) => f.actorMismatches.length === 0), honest.filter((f) => f.actorMismatches.length).map((f) => f.id).join());
  });

  it('a refresh reads only what moved (cached by tree id, in the per-user cache)', async () => {
    await readTeamHistory(await input());
    const again = await readTeamHistory(await input());
    assert.equal(again.stats.refolded, 0);
    // One new event in the working folder: one change is read again.
    const store = new FileRecordStore(history.dir, { cacheDir: join(tmp, 'cache') });
    await store.append(history.changeIds[0]!, { type: 'change.completed', data: {} });
    const moved = await readTeamHistory(await input(store));
    assert.equal(moved.stats.refolded, 1);
    assert.equal(execFileSync('git', ['status', '--porcelain', '--', '.factory/.cache'], { cwd: history.dir, encoding: 'utf8' }), '', 'nothing derived is written into the repository');
  });

  it('the lesson promoted on main is read, with failures of its kind before and after', async () => {
    const report = await teamMetrics(await input(), { now, timeZone: 'UTC' });
    const lesson = report.lessons.find((l) => l.id === history.lessonId);
    assert.ok(lesson?.promoted);
    assert.equal(lesson.promoted.target, '.factory/conventions.md');
    assert.ok(lesson.promoted.before + lesson.promoted.after > 0);
  });

  it('exports valid CSV and JSON with the same numbers', async () => {
    const team = await readTeamHistory(await input());
    const store = new FileRecordStore(history.dir, { cacheDir: join(tmp, 'cache') });
    const report = reportFrom(team, (await store.loadPipeline()).pipeline!, { now, timeZone: 'UTC' });
    const csv = metricsCsv(report);
    const lines = csv.changes.trimEnd().split('\r\n');
    assert.equal(lines.length, report.metrics.rows.length + 1);
    assert.ok(lines.every((l) => !/^[=+@]/.test(l)));
    const json = JSON.parse(metricsJson(report));
    assert.equal(json.metrics.headline.signalShare, report.metrics.headline.signalShare);
    assert.equal(json.metrics.changes, history.changeIds.length);
  });
});

describe('team history from git: a hostile branch', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(os.tmpdir(), 'team-history-hostile-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('an event blob over the event file limit on a branch is reported with its path and never read; the rest of the change is', async () => {
    const dir = join(tmp, 'repo');
    mkdirSync(dir);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('config', 'user.name', 'Test');
    git('config', 'user.email', 'test@example.com');
    git('config', 'commit.gpgsign', 'false');
    const store = new FileRecordStore(dir, { cacheDir: join(tmp, 'cache') });
    const { pipeline } = await store.loadPipeline();
    git('add', '-A');
    git('commit', '-qm', 'pipeline');
    git('checkout', '-qb', 'hostile');
    const changeId = 'hostile-change';
    const events = join(dir, '.factory', 'changes', changeId, 'events');
    mkdirSync(events, { recursive: true });
    const event = (id: string, type: string, data: Record<string, unknown>) => writeFileSync(join(events, `${id}.json`), JSON.stringify({ v: 1, id, change: changeId, type, at: '2026-11-20T09:00:00.000Z', data }));
    event('01JAAAAAAAAAAAAAAAAAAAAAA1', 'change.created', { title: 'Hostile' });
    // Valid JSON, a valid event even: only its size says it is not one the factory wrote.
    event('01JAAAAAAAAAAAAAAAAAAAAAA2', 'change.completed', { note: 'x'.repeat(MAX_EVENT_FILE_BYTES + 1) });
    git('add', '-A');
    git('commit', '-qm', 'a huge event');
    git('checkout', '-q', 'main');
    const hugeOid = git('rev-parse', `hostile:.factory/changes/${changeId}/events/01JAAAAAAAAAAAAAAAAAAAAAA2.json`).toString().trim();
    // A git in front of the real one logs which objects are asked for with their content:
    // read whole, a blob of gigabytes failed the whole report ("Cannot create a string longer than…").
    const wrapper = join(tmp, 'bin');
    const asked = join(tmp, 'asked.log');
    mkdirSync(wrapper);
    const realGit = execFileSync('sh', ['-c', 'command -v git']).toString().trim();
    writeFileSync(join(wrapper, 'git'), `#!/bin/sh\nif [ "$1" = cat-file ] && [ "$2" = --batch ]; then tee -a '${asked}' | exec '${realGit}' "$@"; fi\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${wrapper}${delimiter}${path}`;
    let team: Awaited<ReturnType<typeof readTeamHistory>>;
    try {
      team = await readTeamHistory({ root: dir, pipeline: pipeline!, store, useGit: true, cacheRoot: join(tmp, 'cache') });
    } finally {
      process.env.PATH = path;
    }
    const askedFor = readFileSync(asked, 'utf8');
    assert.ok(askedFor.length > 0, 'the wrapper saw the reads');
    assert.ok(!askedFor.includes(hugeOid), 'the oversized blob is never read');
    const problem = team.problems.find((p) => p.path.endsWith(`${changeId}/events/01JAAAAAAAAAAAAAAAAAAAAAA2.json`));
    assert.ok(problem, JSON.stringify(team.problems));
    assert.match(problem.message, /over the \d+-byte limit for an event file/);
    const fact = team.facts.find((f) => f.id === changeId);
    assert.ok(fact, 'the change is still read from its other events');
    assert.equal(fact.eventCount, 1);
  });
});
