// The team's history: every change the repository knows, from the record of every
// local and remote-tracking branch (read through git objects, no checkout) and the
// working folder's uncommitted events, merged by change (the same change on two
// branches is one change; an event is the same event by id). Each change's facts
// (core/metrics.ts) are cached in the per-user cache, keyed by the git tree ids of its
// events folders and the working folder's event count and last id: a refresh lists
// the branches' trees (a few `cat-file --batch` calls whatever the number of
// branches) and reads and folds only the changes that moved.
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { changeFacts, FACTS_VERSION, mergeEvents, type ChangeFact } from '../core/metrics';
import type { FactoryEvent } from '../core/events';
import type { Pipeline } from '../core/pipeline';
import { branchTips, catFileBatch, catFileSizes, fileAuthors, parseTree, repositoryPrefix, repositoryTop } from '../git/gitBatch';
import { writeFileReplacing } from '../store/atomicFile';
import { repositoryCacheDir } from '../store/cacheDir';
import { DecisionLog, DECISIONS_CHANGE_ID } from '../store/decisionLog';
import { checkEventFileSize, parseEventText } from '../store/eventFile';
import { EVENT_MIGRATIONS } from '../store/migrations';
import type { RecordProblem, RecordStore, SummaryPort } from '../store/recordStore';
import { pipelineHash } from '../store/summaryIndex';

export const WORKING_FOLDER = '(working folder)';
const CACHE_VERSION = 1;

export interface TeamHistory {
  facts: ChangeFact[];
  /** The lead's decisions (autonomy, lessons) from every branch and the working folder. */
  decisions: FactoryEvent[];
  /** Short names: `main`, `origin/feature-x`. */
  branches: string[];
  problems: RecordProblem[];
  stats: { refs: number; changes: number; refolded: number; eventsRead: number; fromGit: boolean };
}

export interface TeamHistoryInput {
  root: string;
  pipeline: Pipeline;
  store: RecordStore & Partial<SummaryPort>;
  /** false: the working folder only (not a repository, or git may not run: Restricted Mode). */
  useGit: boolean;
  /** The per-user cache root (tests); default the user's. */
  cacheRoot?: string;
}

interface CacheFile {
  v: number;
  factsVersion: number;
  pipelineHash: string;
  changes: Record<string, { sig: string; facts: ChangeFact }>;
}

export function shortRef(ref: string): string {
  return ref.replace(/^refs\/heads\//, '').replace(/^refs\/remotes\//, '');
}

export async function readTeamHistory(input: TeamHistoryInput): Promise<TeamHistory> {
  const { pipeline, store } = input;
  const cacheFile = path.join(input.cacheRoot ? repositoryCacheDir(input.root, input.cacheRoot) : repositoryCacheDir(input.root), 'team-history.json');
  const hash = pipelineHash(pipeline);
  const cache = await readCache(cacheFile, hash);
  const problems: RecordProblem[] = [];

  // The working folder: what the summary index knows (count and last id per change).
  const working = new Map<string, string>();
  if (typeof store.summaries === 'function') {
    const load = await store.summaries();
    problems.push(...load.problems);
    for (const s of load.summaries) if (s.eventCount > 0) working.set(s.id, `${s.eventCount}:${s.lastEventId ?? ''}`);
  } else {
    for (const id of await store.listChangeIds()) {
      const record = await store.readChange(id);
      if (record.events.length) working.set(id, `${record.events.length}:${record.events.at(-1)!.id}`);
    }
  }

  // Every branch: its change folders' event trees, in a few batch reads.
  const eventTrees = new Map<string, { refs: string[]; trees: Set<string> }>();
  const decisionTrees = new Set<string>();
  let top = '';
  let recordPath = '.factory';
  let tips: { ref: string; commit: string }[] = [];
  if (input.useGit) {
    top = await repositoryTop(input.root);
    recordPath = `${await repositoryPrefix(input.root)}.factory`;
    tips = await branchTips(input.root);
    const roots = await catFileBatch(top, tips.flatMap((t) => [`${t.commit}:${recordPath}/changes`, `${t.commit}:${recordPath}/decisions`]));
    const changeTrees = new Map<string, { changeId: string; refs: string[] }>();
    tips.forEach((tip, i) => {
      const changes = roots[2 * i];
      const decisions = roots[2 * i + 1];
      if (decisions?.type === 'tree' && decisions.oid) decisionTrees.add(decisions.oid);
      if (changes?.type !== 'tree' || !changes.content) return;
      for (const entry of parseTree(changes.content, oidBytes(changes.oid))) {
        if (entry.mode !== '40000') continue;
        const known = changeTrees.get(entry.oid);
        if (known) known.refs.push(shortRef(tip.ref));
        else changeTrees.set(entry.oid, { changeId: entry.name, refs: [shortRef(tip.ref)] });
      }
    });
    const folders = await catFileBatch(top, [...changeTrees.keys()]);
    for (const folder of folders) {
      const info = changeTrees.get(folder.name)!;
      const events = folder.content ? parseTree(folder.content, oidBytes(folder.oid)).find((e) => e.name === 'events' && e.mode === '40000') : undefined;
      if (!events) continue;
      let entry = eventTrees.get(info.changeId);
      if (!entry) eventTrees.set(info.changeId, (entry = { refs: [], trees: new Set() }));
      entry.refs.push(...info.refs);
      entry.trees.add(events.oid);
    }
  }

  // What moved: a change whose trees or working-folder events differ from the cache.
  const ids = [...new Set([...working.keys(), ...eventTrees.keys()])].sort();
  const sigOf = (id: string) => createHash('sha1').update(`${[...(eventTrees.get(id)?.trees ?? [])].sort().join(',')}|${working.get(id) ?? ''}|${(eventTrees.get(id)?.refs ?? []).sort().join(',')}`).digest('hex');
  const stale = ids.filter((id) => cache.changes[id]?.sig !== sigOf(id));

  let eventsRead = 0;
  if (stale.length > 0) {
    const fromGit = new Map<string, FactoryEvent[][]>();
    if (input.useGit) {
      const trees = stale.flatMap((id) => [...(eventTrees.get(id)?.trees ?? [])].map((oid) => ({ id, oid })));
      const listed = await catFileBatch(top, trees.map((t) => t.oid));
      const files: { id: string; name: string; oid: string; tree: number }[] = [];
      listed.forEach((tree, i) => {
        if (!tree.content) return;
        for (const e of parseTree(tree.content, oidBytes(tree.oid))) if (e.mode === '100644' || e.mode === '100755') files.push({ id: trees[i]!.id, name: e.name, oid: e.oid, tree: i });
      });
      // Sizes first: a branch can hold an "event" of gigabytes, which would be read whole
      // (and then fail as a string too long). Over the event file limit, it is reported, not read.
      const sizes = await catFileSizes(top, [...new Set(files.map((f) => f.oid))]);
      const oversized = new Set<string>();
      for (const f of files) {
        const tooBig = checkEventFileSize(sizes.get(f.oid) ?? 0);
        if (!tooBig) continue;
        oversized.add(f.oid);
        problems.push({ path: `${recordPath}/changes/${f.id}/events/${f.name}`, ...tooBig });
      }
      const unique = [...new Set(files.map((f) => f.oid))].filter((oid) => !oversized.has(oid));
      const blobs = new Map<string, Buffer>();
      // Large records go in slices, so one reply never holds gigabytes.
      for (let i = 0; i < unique.length; i += 20_000) {
        for (const b of await catFileBatch(top, unique.slice(i, i + 20_000))) if (b.content && b.type === 'blob') blobs.set(b.name, b.content);
      }
      const byTree = new Map<number, FactoryEvent[]>();
      // The same file on two branches is one blob: parsed once.
      const parsed = new Map<string, ReturnType<typeof parseEventText>>();
      for (const f of files) {
        const bytes = blobs.get(f.oid);
        if (!bytes) continue;
        const key = `${f.oid}\u0000${f.id}\u0000${f.name}`;
        let result = parsed.get(key);
        if (!result) parsed.set(key, (result = parseEventText(f.id, f.name, bytes.toString('utf8'), EVENT_MIGRATIONS)));
        if ('event' in result) {
          const list = byTree.get(f.tree) ?? [];
          list.push(result.event);
          byTree.set(f.tree, list);
          eventsRead++;
        } else problems.push({ path: `${recordPath}/changes/${f.id}/events/${f.name}`, ...result.problem });
      }
      for (const [i, events] of byTree) {
        const id = trees[i]!.id;
        fromGit.set(id, [...(fromGit.get(id) ?? []), events]);
      }
    }
    const committers = input.useGit && tips.length ? await fileAuthors(top, [...new Set(tips.map((t) => t.commit))], stale.length > 200 ? [`${recordPath}/changes`] : stale.map((id) => `${recordPath}/changes/${id}/events`)) : new Map();
    for (const id of stale) {
      const sources = [...(fromGit.get(id) ?? [])];
      // The working folder adds nothing when a branch already holds its last event and as many events (committed, unchanged).
      const [count = '0', last = ''] = (working.get(id) ?? '').split(':');
      const committed = sources.some((events) => events.length >= Number(count) && events.some((e) => e.id === last));
      if (working.has(id) && !committed) {
        const record = await store.readChange(id);
        sources.unshift(record.events);
        eventsRead += record.events.length;
      }
      const events = mergeEvents(sources);
      const refs = [...new Set(eventTrees.get(id)?.refs ?? [])].sort();
      const branches = refs.length ? refs : [WORKING_FOLDER];
      const facts = changeFacts(id, pipeline, events, { committers, branches });
      if (working.has(id)) facts.local = true;
      cache.changes[id] = { sig: sigOf(id), facts };
    }
  }
  const known = new Set(ids);
  for (const id of Object.keys(cache.changes)) if (!known.has(id)) delete cache.changes[id];
  if (stale.length > 0) await writeCache(cacheFile, cache).catch(() => undefined);

  // Decisions: few and small, read whole every time.
  const decisionSources: FactoryEvent[][] = [(await new DecisionLog(input.root).read()).events];
  if (decisionTrees.size) {
    const listed = await catFileBatch(top, [...decisionTrees]);
    const files = listed.flatMap((t) => (t.content ? parseTree(t.content, oidBytes(t.oid)).filter((e) => e.mode.startsWith('100')) : []));
    const decisionOids = [...new Set(files.map((f) => f.oid))];
    const sizes = await catFileSizes(top, decisionOids);
    const blobs = await catFileBatch(top, decisionOids.filter((oid) => !checkEventFileSize(sizes.get(oid) ?? 0)));
    const byOid = new Map(blobs.map((b) => [b.name, b.content]));
    const events: FactoryEvent[] = [];
    for (const f of files) {
      const bytes = byOid.get(f.oid);
      if (!bytes) continue;
      const result = parseEventText(DECISIONS_CHANGE_ID, f.name, bytes.toString('utf8'), EVENT_MIGRATIONS);
      if ('event' in result) events.push(result.event);
    }
    decisionSources.push(events);
  }
  const facts = ids.map((id) => cache.changes[id]!.facts).filter((f) => f.eventCount > 0);
  return {
    facts,
    decisions: mergeEvents(decisionSources),
    branches: [...new Set(tips.map((t) => shortRef(t.ref)))].sort(),
    problems,
    stats: { refs: tips.length, changes: facts.length, refolded: stale.length, eventsRead, fromGit: input.useGit },
  };
}

function oidBytes(oid: string | undefined): number {
  return oid && oid.length === 64 ? 32 : 20;
}

async function readCache(file: string, hash: string): Promise<CacheFile> {
  const empty: CacheFile = { v: CACHE_VERSION, factsVersion: FACTS_VERSION, pipelineHash: hash, changes: {} };
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as CacheFile;
    // Derived and rebuildable: anything unexpected is a rebuild, never an error.
    if (parsed?.v !== CACHE_VERSION || parsed.factsVersion !== FACTS_VERSION || parsed.pipelineHash !== hash || typeof parsed.changes !== 'object' || parsed.changes === null) return empty;
    return { ...parsed, changes: Object.assign(Object.create(null) as Record<string, never>, parsed.changes) };
  } catch {
    return empty;
  }
}

async function writeCache(file: string, cache: CacheFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileReplacing(file, JSON.stringify(cache));
}
