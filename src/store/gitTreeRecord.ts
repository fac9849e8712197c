// The record as it is in a git tree (another branch, a remote-tracking branch), read
// through git objects: read-only, validated exactly like the working folder (same
// eventFile.ts checks), problems reported with `<ref>:<path>`. Nothing is quarantined:
// a git object cannot be moved aside, and the branch's owner sees the problem when
// reading it from their own working folder.
import { PipelineSchema } from '../core/pipeline';
import { isChangeId, firstIssue, type FactoryEvent } from '../core/events';
import { parseJsonSafely } from '../core/json';
import { compareEvents } from '../core/fold';
import { checkEventFileName, checkEventFileSize, jsonProblem, parseEventText, type FileProblem } from './eventFile';
import { EVENT_MIGRATIONS, type MigrationRegistry } from './migrations';
import { MAX_PIPELINE_BYTES, type ChangeRecord, type PipelineLoad, type RecordProblem } from './recordStore';

/** What this needs from git (src/git/gitObjects.ts GitObjectReader provides it). */
export interface GitTreeSource {
  listTree(ref: string, dir: string): Promise<Array<{ mode: string; type: string; oid: string; size?: number; path: string }>>;
  readBlobs(oids: readonly string[]): Promise<Map<string, Buffer>>;
}

export interface GitTreeRecordOptions {
  /** `.factory` relative to the repository top (e.g. `packages/app/.factory`). */
  recordPath?: string;
  migrations?: MigrationRegistry;
  onProblem?: (problem: RecordProblem) => void;
}

const SYMLINK_MODE = '120000';

export class GitTreeRecordReader {
  private readonly recordPath: string;
  private readonly migrations: MigrationRegistry;
  private readonly onProblem: (problem: RecordProblem) => void;

  constructor(
    private readonly source: GitTreeSource,
    readonly ref: string,
    options: GitTreeRecordOptions = {},
  ) {
    this.recordPath = (options.recordPath ?? '.factory').replace(/\/+$/, '');
    this.migrations = options.migrations ?? EVENT_MIGRATIONS;
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  async loadPipeline(): Promise<PipelineLoad> {
    const file = `${this.recordPath}/pipeline.json`;
    const [entry] = (await this.source.listTree(this.ref, file)).filter((e) => e.path === file);
    if (!entry) return { problems: [], created: false };
    const where = `${this.ref}:${file}`;
    // The working folder's limit, checked from the listing: a branch's pipeline.json of
    // gigabytes is reported, not read.
    if (entry.size !== undefined && entry.size > MAX_PIPELINE_BYTES) {
      return { problems: [this.report({ path: where, field: '', message: `is ${entry.size} bytes, over the ${MAX_PIPELINE_BYTES}-byte limit for pipeline.json` })], created: false };
    }
    const bytes = (await this.source.readBlobs([entry.oid])).get(entry.oid);
    if (!bytes) return { problems: [this.report({ path: where, field: '', message: 'the object is missing' })], created: false };
    let parsed: ReturnType<typeof parseJsonSafely>;
    try {
      parsed = parseJsonSafely(bytes.toString('utf8'));
    } catch (error) {
      return { problems: [this.report({ path: where, ...jsonProblem(error) })], created: false };
    }
    const result = PipelineSchema.safeParse(parsed.value);
    if (!result.success) {
      const issue = firstIssue(result.error);
      return { problems: [this.report({ path: where, field: issue.field, message: issue.message })], created: false };
    }
    return { pipeline: result.data, problems: [], created: false };
  }

  async listChangeIds(): Promise<string[]> {
    const entries = await this.source.listTree(this.ref, `${this.recordPath}/changes`);
    const ids = new Set<string>();
    for (const entry of entries) {
      const id = entry.path.slice(this.recordPath.length + '/changes/'.length).split('/')[0];
      if (id && isChangeId(id)) ids.add(id);
    }
    return [...ids].sort();
  }

  async readChange(changeId: string): Promise<ChangeRecord> {
    const records = await this.read(isChangeId(changeId) ? `${this.recordPath}/changes/${changeId}/events` : undefined);
    return records.get(changeId) ?? { changeId, events: [], problems: [] };
  }

  /** Every change of the ref with one listing and one batch read. */
  async readAllChanges(): Promise<ChangeRecord[]> {
    return [...(await this.read(`${this.recordPath}/changes`)).values()].sort((a, b) => (a.changeId < b.changeId ? -1 : 1));
  }

  private async read(dir: string | undefined): Promise<Map<string, ChangeRecord>> {
    const records = new Map<string, ChangeRecord>();
    if (!dir) return records;
    const entries = await this.source.listTree(this.ref, dir);
    const prefix = `${this.recordPath}/changes/`;
    const wanted: Array<{ changeId: string; name: string; oid: string; path: string }> = [];
    const problems: Array<{ changeId: string; path: string; problem: FileProblem }> = [];
    for (const entry of entries) {
      const parts = entry.path.slice(prefix.length).split('/');
      const [changeId, folder, name, ...deeper] = parts;
      if (!changeId || !isChangeId(changeId) || folder !== 'events' || !name || deeper.length > 0) continue;
      const nameProblem = checkEventFileName(name);
      const problem =
        entry.mode === SYMLINK_MODE
          ? { field: '', message: 'is a symbolic link; event files must be regular files' }
          : (nameProblem ?? (entry.size !== undefined ? checkEventFileSize(entry.size) : undefined));
      if (problem) problems.push({ changeId, path: entry.path, problem });
      else wanted.push({ changeId, name, oid: entry.oid, path: entry.path });
    }
    const blobs = await this.source.readBlobs([...new Set(wanted.map((w) => w.oid))]);
    const recordOf = (changeId: string) => {
      let record = records.get(changeId);
      if (!record) records.set(changeId, (record = { changeId, events: [], problems: [] }));
      return record;
    };
    for (const w of wanted) {
      const bytes = blobs.get(w.oid);
      const result: { event: FactoryEvent } | { problem: FileProblem } = bytes
        ? parseEventText(w.changeId, w.name, bytes.toString('utf8'), this.migrations)
        : { problem: { field: '', message: 'the object is missing' } };
      if ('event' in result) recordOf(w.changeId).events.push(result.event);
      else problems.push({ changeId: w.changeId, path: w.path, problem: result.problem });
    }
    for (const p of problems) recordOf(p.changeId).problems.push(this.report({ path: `${this.ref}:${p.path}`, ...p.problem }));
    for (const record of records.values()) record.events.sort(compareEvents);
    return records;
  }

  private report(problem: RecordProblem): RecordProblem {
    this.onProblem(problem);
    return problem;
  }
}
