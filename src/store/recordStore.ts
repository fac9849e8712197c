// The on-disk record under .factory/. The layout is chosen so that hardening never
// changes callers and git merges never conflict:
//   .factory/pipeline.json                          the pipeline definition
//   .factory/changes/<change>/events/<ULID>.json    one immutable file per event
//   .factory/quarantine/…                           files that failed validation, set aside
// One file per event means two writers (two windows, the editor and the CLI) never
// touch the same file, and two branches that extend one change add different files.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { monotonicFactory } from 'ulid';
import { defaultPipeline, PipelineSchema, type Pipeline } from '../core/pipeline';
import {
  EVENT_SCHEMA_VERSION,
  EventPayloads,
  firstIssue,
  validateEvent,
  type EventDraft,
  type FactoryEvent,
} from '../core/events';
import { parseJsonSafely, slugify } from '../core/json';
import { compareEvents } from '../core/fold';

export interface RecordProblem {
  /** Workspace-relative path of the file. */
  path: string;
  /** The failing field, dotted; empty when the file as a whole is unreadable. */
  field: string;
  message: string;
  /** Where the file was moved, workspace-relative, when it was set aside. */
  quarantinedTo?: string;
}

export interface ChangeRecord {
  changeId: string;
  events: FactoryEvent[];
  problems: RecordProblem[];
}

export interface PipelineLoad {
  pipeline?: Pipeline;
  problems: RecordProblem[];
  /** True when the file did not exist and the default was written. */
  created: boolean;
}

/** The record's interface; callers (engine, ui, cli) depend on this only. */
export interface RecordStore {
  readonly workspaceRoot: string;
  readonly factoryDir: string;
  readonly pipelinePath: string;
  /** Reads pipeline.json, writing the default pipeline first when there is none. */
  loadPipeline(options?: { createIfMissing?: boolean }): Promise<PipelineLoad>;
  listChangeIds(): Promise<string[]>;
  readChange(changeId: string): Promise<ChangeRecord>;
  append(changeId: string, draft: EventDraft): Promise<FactoryEvent>;
  newChangeId(title: string): string;
}

export interface FileRecordStoreOptions {
  now?: () => Date;
  /** Called once per problem found, e.g. to log it. */
  onProblem?: (problem: RecordProblem) => void;
}

export class FileRecordStore implements RecordStore {
  readonly factoryDir: string;
  readonly pipelinePath: string;
  private readonly now: () => Date;
  private readonly nextId: (time?: number) => string;
  private readonly onProblem: (problem: RecordProblem) => void;

  constructor(
    readonly workspaceRoot: string,
    options: FileRecordStoreOptions = {},
  ) {
    this.factoryDir = path.join(workspaceRoot, '.factory');
    this.pipelinePath = path.join(this.factoryDir, 'pipeline.json');
    this.now = options.now ?? (() => new Date());
    this.nextId = monotonicFactory();
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  async loadPipeline(options: { createIfMissing?: boolean } = {}): Promise<PipelineLoad> {
    let text: string;
    try {
      text = await fs.readFile(this.pipelinePath, 'utf8');
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const pipeline = defaultPipeline();
      if (options.createIfMissing === false) return { pipeline, problems: [], created: false };
      await this.writeJson(this.pipelinePath, pipeline);
      return { pipeline, problems: [], created: true };
    }
    const rel = this.relative(this.pipelinePath);
    let raw: unknown;
    try {
      raw = parseJsonSafely(text).value;
    } catch (error) {
      return { problems: [this.report({ path: rel, field: '', message: `not valid JSON: ${(error as Error).message}` })], created: false };
    }
    const parsed = PipelineSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error);
      return { problems: [this.report({ path: rel, field: issue.field, message: issue.message })], created: false };
    }
    return { pipeline: parsed.data, problems: [], created: false };
  }

  async listChangeIds(): Promise<string[]> {
    try {
      const entries = await fs.readdir(path.join(this.factoryDir, 'changes'), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  async readChange(changeId: string): Promise<ChangeRecord> {
    const dir = this.eventsDir(changeId);
    let names: string[];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    } catch (error) {
      if (isNotFound(error)) return { changeId, events: [], problems: [] };
      throw error;
    }
    const events: FactoryEvent[] = [];
    const problems: RecordProblem[] = [];
    const texts = await Promise.all(names.map((name) => fs.readFile(path.join(dir, name), 'utf8')));
    names.forEach((name, i) => {
      const file = path.join(dir, name);
      const result = this.parseEventFile(changeId, name, texts[i]!);
      if ('event' in result) events.push(result.event);
      else problems.push({ path: this.relative(file), ...result.problem });
    });
    for (const problem of problems) {
      problem.quarantinedTo = await this.quarantine(problem.path);
      this.report(problem);
    }
    events.sort(compareEvents);
    return { changeId, events, problems };
  }

  async append(changeId: string, draft: EventDraft): Promise<FactoryEvent> {
    const now = this.now();
    const data = EventPayloads[draft.type].parse(draft.data);
    const event = {
      v: EVENT_SCHEMA_VERSION,
      id: this.nextId(now.getTime()),
      change: changeId,
      type: draft.type,
      at: now.toISOString(),
      ...(draft.by ? { by: draft.by } : {}),
      data,
    } as FactoryEvent;
    await fs.mkdir(this.eventsDir(changeId), { recursive: true });
    await this.writeJson(path.join(this.eventsDir(changeId), `${event.id}.json`), event);
    return event;
  }

  newChangeId(title: string): string {
    // Readable in a file list, unique without coordination: slug + the ULID's random tail.
    return `${slugify(title)}-${this.nextId(this.now().getTime()).slice(-6).toLowerCase()}`;
  }

  private parseEventFile(changeId: string, name: string, text: string): { event: FactoryEvent } | { problem: Omit<RecordProblem, 'path'> } {
    let parsed: ReturnType<typeof parseJsonSafely>;
    try {
      parsed = parseJsonSafely(text);
    } catch (error) {
      return { problem: { field: '', message: `not valid JSON: ${(error as Error).message}` } };
    }
    const result = validateEvent(parsed.value);
    if (!result.ok) return { problem: { field: result.issue.field, message: result.issue.message } };
    if (`${result.event.id}.json` !== name) return { problem: { field: 'id', message: `does not match the file name ${name}` } };
    if (result.event.change !== changeId) return { problem: { field: 'change', message: `names change "${result.event.change}" but is stored under "${changeId}"` } };
    return { event: result.event };
  }

  /** Moves a bad file aside (never deletes it) so the rest of the record loads. */
  private async quarantine(relPath: string): Promise<string | undefined> {
    const from = path.join(this.workspaceRoot, relPath);
    const to = path.join(this.factoryDir, 'quarantine', path.relative(this.factoryDir, from));
    try {
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rename(from, to);
      return this.relative(to);
    } catch {
      return undefined;
    }
  }

  private report(problem: RecordProblem): RecordProblem {
    this.onProblem(problem);
    return problem;
  }

  private eventsDir(changeId: string): string {
    return path.join(this.factoryDir, 'changes', changeId, 'events');
  }

  private relative(file: string): string {
    return path.relative(this.workspaceRoot, file).split(path.sep).join('/');
  }

  private async writeJson(file: string, value: unknown): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { fsync: true });
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}
