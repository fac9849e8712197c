// The lead's decisions about the pipeline (autonomy granted or revoked, lessons
// promoted): events like any other, one immutable `<ULID>.json` file each, but in
// `.factory/decisions/` under the change id "factory", because they concern no single
// change. Read from the working folder (RecordFs: no link is followed) and from git
// trees (another branch's decisions), validated by the same eventFile.ts checks.
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';
import { EVENT_SCHEMA_VERSION, EventPayloads, type EventDraft, type FactoryEvent } from '../core/events';
import { compareEvents } from '../core/fold';
import { checkEventFileName, parseEventText } from './eventFile';
import { EVENT_MIGRATIONS } from './migrations';
import { RecordFs, RecordReadOnlyError } from './recordFs';
import type { RecordProblem } from './recordStore';
import type { GitTreeSource } from './gitTreeRecord';

export const DECISIONS_CHANGE_ID = 'factory';
const MAX_DECISION_BYTES = 1024 * 1024;
const nextUlid = monotonicFactory();

export interface DecisionLoad {
  events: FactoryEvent[];
  problems: RecordProblem[];
}

export class DecisionLog {
  private readonly fsx: RecordFs;
  readonly dir: string;

  constructor(
    readonly workspaceRoot: string,
    private readonly options: { now?: () => Date; mayWrite?: () => boolean } = {},
  ) {
    this.fsx = new RecordFs(workspaceRoot);
    this.dir = path.join(workspaceRoot, '.factory', 'decisions');
  }

  async append(draft: EventDraft): Promise<FactoryEvent> {
    if (this.options.mayWrite && !this.options.mayWrite()) throw new RecordReadOnlyError(`record a ${draft.type} decision`);
    const now = (this.options.now ?? (() => new Date()))();
    const data = EventPayloads[draft.type].parse(draft.data);
    const event = {
      v: EVENT_SCHEMA_VERSION,
      id: nextUlid(now.getTime()),
      change: DECISIONS_CHANGE_ID,
      type: draft.type,
      at: now.toISOString(),
      ...(draft.by ? { by: draft.by } : {}),
      data,
    } as FactoryEvent;
    await this.fsx.createExclusive(path.join(this.dir, `${event.id}.json`), `${JSON.stringify(event, null, 2)}\n`);
    return event;
  }

  async read(): Promise<DecisionLoad> {
    const events: FactoryEvent[] = [];
    const problems: RecordProblem[] = [];
    let entries;
    try {
      entries = await this.fsx.listDir(this.dir);
    } catch (error) {
      return { events, problems: [{ path: '.factory/decisions', field: '', message: error instanceof Error ? error.message : String(error) }] };
    }
    for (const entry of entries ?? []) {
      if (entry.name.startsWith('.')) continue;
      const rel = `.factory/decisions/${entry.name}`;
      const nameProblem = checkEventFileName(entry.name);
      if (nameProblem) {
        problems.push({ path: rel, ...nameProblem });
        continue;
      }
      try {
        const bytes = await this.fsx.readFile(path.join(this.dir, entry.name), MAX_DECISION_BYTES);
        if (typeof bytes !== 'object' || bytes === undefined) continue;
        const result = parseEventText(DECISIONS_CHANGE_ID, entry.name, bytes.toString('utf8'), EVENT_MIGRATIONS);
        if ('event' in result) events.push(result.event);
        else problems.push({ path: rel, ...result.problem });
      } catch (error) {
        problems.push({ path: rel, field: '', message: error instanceof Error ? error.message : String(error) });
      }
    }
    return { events: events.sort(compareEvents), problems };
  }
}

/** The decisions recorded in a git tree (`ref`), with the blob id of each file. */
export async function readDecisionsFromTree(source: GitTreeSource, ref: string, recordPath = '.factory'): Promise<DecisionLoad & { oids: Map<string, string> }> {
  const dir = `${recordPath}/decisions`;
  const entries = (await source.listTree(ref, dir)).filter((e) => e.type === 'blob' && e.mode !== '120000' && !e.path.slice(dir.length + 1).includes('/'));
  const blobs = await source.readBlobs(entries.map((e) => e.oid));
  const events: FactoryEvent[] = [];
  const problems: RecordProblem[] = [];
  const oids = new Map<string, string>();
  for (const entry of entries) {
    const name = entry.path.slice(dir.length + 1);
    const bytes = blobs.get(entry.oid);
    if (!bytes) continue;
    const result = parseEventText(DECISIONS_CHANGE_ID, name, bytes.toString('utf8'), EVENT_MIGRATIONS);
    if ('event' in result) {
      events.push(result.event);
      oids.set(result.event.id, entry.oid);
    } else problems.push({ path: `${ref}:${entry.path}`, ...result.problem });
  }
  return { events: events.sort(compareEvents), problems, oids };
}
