// The factory's MCP server (#18): the engine's use cases as tools and resources for an
// agent — the change and its stage tree, the context pack within a token budget and its
// items, the handoff into the stage, its criteria, verification, and notes for the
// running attempt. It acts on the factory that engine/factory.ts builds, so it refuses
// and allows exactly as the editor and the CLI do.
//
// What an agent records here lands in the record as events with the agent as actor and
// the attempt the server is bound to (`attemptId`): `context.fetched` when it read the
// pack or the handoff (the signal counts it as consumption, core/signal.ts),
// `attempt.noted` for its progress notes and handoff summary, `attempt.toolCalled` for
// every other tool, so the attempt's record lists which tools it called.
//
// Bundled apart (dist/mcp.js, esbuild.config.mjs): the SDK brings a web server stack
// with it, and only `factory-cockpit mcp` loads it.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import type { Actor, EventDraft, FactoryEvent } from '../core/events';
import { isEvent } from '../core/events';
import type { ChangeState, StageState } from '../core/fold';
import type { Pipeline } from '../core/pipeline';
import type { Factory } from '../engine/factory';
import { failuresOf } from '../engine/stageRunner';
import { ContextPackStore } from '../store/contextPackStore';
import { EvidenceContentStore } from '../store/contextContent';
import type { RecordStore } from '../store/recordStore';

export const MCP_SERVER_NAME = 'factory';

/** What the server is bound to when the factory runs an agent with it. */
export interface McpBinding {
  changeId?: string;
  attemptId?: string;
  /** The agent's name (the backend id): the actor of what it records. */
  agent?: string;
}

/** A sentence for the model; changes nothing. */
export class ToolRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolRefusal';
  }
}

const CHANGE_ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const ChangeId = z
  .string()
  .regex(CHANGE_ID, 'a change id is lowercase letters, digits and dashes')
  .optional()
  .describe('The change id; default: the change this server is bound to, else the current change.');
const StageIdInput = z.string().min(1).max(200).optional().describe("A stage id of the pipeline (e.g. implement); default: the attempt's stage, else the stage that runs next.");

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

function text(value: string, structured?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: value }], ...(structured ? { structuredContent: structured } : {}) };
}

function refusal(error: unknown): CallToolResult {
  const message = error instanceof Error ? error.message : String(error);
  return { isError: true, content: [{ type: 'text', text: message }] };
}

function stageLine(stage: StageState): string {
  const last = stage.attempts[stage.attempts.length - 1];
  return `- ${stage.id} (${stage.title}): ${stage.status}${stage.handedOff ? ', handed off' : ''}; owner ${stage.owner.backend}${stage.owner.model ? `/${stage.owner.model}` : ''}; ${stage.attempts.length} attempt(s)${last?.outcome ? `, last ${last.outcome}` : ''}`;
}

export function createMcpServer(factory: Factory, binding: McpBinding = {}, version = '0.0.0'): McpServer {
  const server = new McpServer(
    { name: MCP_SERVER_NAME, title: 'Factory Cockpit', version },
    {
      instructions:
        "Factory Cockpit's record of the change you are working on: read the handed-off context pack (get_context, get_handoff) instead of re-gathering context, check the stage's criteria, run verification, and record progress notes and your handoff summary.",
    },
  );

  const actor = (): Actor => ({ name: binding.agent ?? server.server.getClientVersion()?.name ?? 'mcp-client' });

  /** The record as this agent writes it: its name as actor, its attempt on every event. */
  const records: RecordStore = new Proxy(factory.store as RecordStore, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (changeId: string, draft: EventDraft) =>
          target.append(changeId, { ...draft, by: actor(), data: { ...draft.data, ...(binding.attemptId ? { attemptId: binding.attemptId } : {}) } } as EventDraft);
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const packs = new ContextPackStore({ records, content: new EvidenceContentStore(factory.evidence) });

  async function changeOf(changeId: string | undefined): Promise<ChangeState> {
    const id = changeId ?? binding.changeId ?? (await factory.readState()).current?.id;
    if (!id) throw new ToolRefusal('There is no current change in this workspace: start one first (factory-cockpit change start "<title>"), or pass changeId.');
    if (binding.changeId && id !== binding.changeId) throw new ToolRefusal(`This server is bound to change "${binding.changeId}"; it does not act on "${id}".`);
    return factory.change(id);
  }

  async function pipeline(): Promise<Pipeline> {
    const state = await factory.readState();
    if (!state.pipeline) throw new ToolRefusal(`.factory/pipeline.json cannot be read${state.problems.length ? `: ${state.problems.map((p) => `${p.field ?? ''} ${p.message}`).join('; ')}` : ''}.`);
    return state.pipeline;
  }

  function stageOf(change: ChangeState, stageId: string | undefined): StageState {
    const boundStage = binding.attemptId ? change.stages.find((s) => s.attempts.some((a) => a.id === binding.attemptId)) : undefined;
    const id = stageId ?? boundStage?.id ?? change.stages.find((s) => !s.handedOff)?.id ?? change.stages[change.stages.length - 1]?.id;
    const stage = change.stages.find((s) => s.id === id);
    if (!stage) throw new ToolRefusal(`There is no stage "${id ?? ''}" in the pipeline (stages: ${change.stages.map((s) => s.id).join(', ')}).`);
    return stage;
  }

  async function record(changeId: string, draft: EventDraft): Promise<FactoryEvent | undefined> {
    // Restricted Mode writes nothing: reading still works, the record just does not learn.
    if (!factory.isTrusted()) return undefined;
    return records.append(changeId, draft);
  }

  /** Every tool: validated input, a sentence on refusal, and (bound to an attempt) a trace in its record. */
  function tool<T>(name: string, run: (input: T) => Promise<CallToolResult & { changeId?: string; stageId?: string; fetched?: boolean }>) {
    return async (input: T): Promise<CallToolResult> => {
      try {
        const { changeId, stageId, fetched, ...result } = await run(input);
        if (binding.attemptId && changeId && !fetched) await record(changeId, { type: 'attempt.toolCalled', data: { tool: name, server: MCP_SERVER_NAME, ok: true, ...(stageId ? { stageId } : {}) } }).catch(() => undefined);
        return result;
      } catch (error) {
        return refusal(error);
      }
    };
  }

  server.registerTool(
    'get_change',
    {
      title: 'Current change and its stages',
      description: 'The change being worked on (title, ticket, description, branch) and its stage tree: each stage with status, owner, attempts and whether it handed off. Use first to see where the work stands.',
      inputSchema: { changeId: ChangeId },
      annotations: READ_ONLY,
    },
    tool('get_change', async ({ changeId }: { changeId?: string }) => {
      const change = await changeOf(changeId);
      const stages = change.stages.map((s) => ({ id: s.id, title: s.title, role: s.role, status: s.status, owner: s.owner.backend, handedOff: s.handedOff, attempts: s.attempts.length, lastOutcome: s.attempts[s.attempts.length - 1]?.outcome ?? null }));
      const lines = [`Change ${change.id}: ${change.title}${change.ticket ? ` (${change.ticket})` : ''}`, ...(change.description ? [change.description] : []), ...(change.branch ? [`Branch: ${change.branch}`] : []), 'Stages:', ...change.stages.map(stageLine)];
      return { ...text(lines.join('\n'), { changeId: change.id, title: change.title, ticket: change.ticket ?? null, branch: change.branch ?? null, stages, boundAttempt: binding.attemptId ?? null }), changeId: change.id };
    }),
  );

  server.registerTool(
    'get_context',
    {
      title: 'The context pack, rendered',
      description: "The change's context pack (files, notes, ticket, conventions, stage outputs) rendered as the agent receives it, within a token budget, with its version and the list of its items (what was cut and why). Read this instead of re-gathering context.",
      inputSchema: { changeId: ChangeId, budgetTokens: z.number().int().min(100).max(2_000_000).optional().describe('The most tokens (estimated) the rendered pack may take; default: no limit.') },
      annotations: READ_ONLY,
    },
    tool('get_context', async ({ changeId, budgetTokens }: { changeId?: string; budgetTokens?: number }) => {
      const change = await changeOf(changeId);
      // One read of the pack: its items and version are what is rendered.
      const pack = await factory.context.load(change.id);
      const rendered = await factory.context.render(change.id, { items: pack.items, version: pack.version, ...(budgetTokens ? { budgetTokens } : {}) });
      const stageId = binding.attemptId ? stageOf(change, undefined).id : undefined;
      // A fetch is the attempt's consumption (core/signal.ts): recorded for an attempt only.
      if (binding.attemptId) await record(change.id, { type: 'context.fetched', data: { contextVersion: rendered.version, what: 'pack', tool: 'get_context', ...(stageId ? { stageId } : {}) } });
      const items = pack.items.map((i) => ({ id: i.id, kind: i.kind, title: i.title, tokens: i.tokens, pinned: i.pinned, included: rendered.included.includes(i.id) }));
      return { ...text(rendered.text, { changeId: change.id, version: rendered.version, tokens: rendered.tokens, withinBudget: rendered.withinBudget, items, cut: rendered.cut }), changeId: change.id, fetched: true };
    }),
  );

  server.registerTool(
    'list_context_items',
    {
      title: 'Items of the context pack',
      description: "The context pack's items (id, kind, title, estimated tokens, pinned) and its version, without their content. Use get_context_item for one item's content.",
      inputSchema: { changeId: ChangeId },
      annotations: READ_ONLY,
    },
    tool('list_context_items', async ({ changeId }: { changeId?: string }) => {
      const change = await changeOf(changeId);
      const pack = await factory.context.load(change.id);
      const items = pack.items.map((i) => ({ id: i.id, kind: i.kind, title: i.title, tokens: i.tokens, pinned: i.pinned }));
      const lines = [`Context pack ${pack.version.slice(0, 12)}: ${items.length} item(s)`, ...items.map((i) => `- ${i.id} [${i.kind}] ${i.title} (~${i.tokens} tokens${i.pinned ? ', pinned' : ''})`)];
      return { ...text(lines.join('\n'), { changeId: change.id, version: pack.version, items }), changeId: change.id };
    }),
  );

  server.registerTool(
    'get_context_item',
    {
      title: "One context item's content",
      description: 'The full content of one item of the context pack, by its id (from list_context_items or get_context).',
      inputSchema: { changeId: ChangeId, itemId: z.string().min(1).max(200).describe('The item id.') },
      annotations: READ_ONLY,
    },
    tool('get_context_item', async ({ changeId, itemId }: { changeId?: string; itemId: string }) => {
      const change = await changeOf(changeId);
      const pack = await factory.context.load(change.id);
      const item = pack.items.find((i) => i.id === itemId);
      if (!item) throw new ToolRefusal(`There is no item "${itemId}" in the context pack of ${change.id} (items: ${pack.items.map((i) => i.id).join(', ') || 'none'}).`);
      const { contents, problems } = await factory.context.loadContents([item]);
      const content = contents.get(item.id);
      if (content === undefined) throw new ToolRefusal(`The content of item "${itemId}" cannot be read: ${problems.map((p) => p.message).join('; ') || 'it is missing from the evidence store'}.`);
      return { ...text(content, { changeId: change.id, id: item.id, kind: item.kind, title: item.title, contentHash: item.contentHash, tokens: item.tokens, content }), changeId: change.id };
    }),
  );

  const AddOptions = { changeId: ChangeId, title: z.string().min(1).max(200).optional().describe('A title for the item; default: the path, or the note\'s first line.') };
  server.registerTool(
    'add_context_file',
    {
      title: 'Add a file to the context pack',
      description: 'Adds a workspace file (a path relative to the workspace root; optionally a line range) to the change\'s context pack, so later stages receive it. Recorded with you as its author.',
      inputSchema: {
        ...AddOptions,
        path: z.string().min(1).max(1000).describe('Workspace-relative path, e.g. src/auth.ts. Paths outside the workspace are refused.'),
        startLine: z.number().int().min(1).optional().describe('First line (1-based) of a range.'),
        endLine: z.number().int().min(1).optional().describe('Last line of a range.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    tool('add_context_file', async ({ changeId, title, path: relPath, startLine, endLine }: { changeId?: string; title?: string; path: string; startLine?: number; endLine?: number }) => {
      const change = await changeOf(changeId);
      requireTrust('add to the context pack');
      if ((startLine === undefined) !== (endLine === undefined)) throw new ToolRefusal('A range needs both startLine and endLine.');
      factory.resolvePath(relPath); // confined to the workspace, or a sentence naming the path
      const stageId = binding.attemptId ? stageOf(change, undefined).id : undefined;
      const edit = await packs.addFileItem(change.id, { path: relPath, ...(title ? { title } : {}), ...(stageId ? { stageId } : {}), ...(startLine !== undefined && endLine !== undefined ? { range: { startLine, endLine } } : {}) });
      return { ...text(`${edit.changed ? 'Added' : 'Already in the pack:'} ${relPath}. The pack is now version ${edit.pack.version.slice(0, 12)} (${edit.pack.items.length} items).`, { changeId: change.id, changed: edit.changed, itemIds: edit.itemIds, version: edit.pack.version }), changeId: change.id, ...(stageId ? { stageId } : {}) };
    }),
  );

  server.registerTool(
    'add_context_note',
    {
      title: 'Add a note to the context pack',
      description: 'Adds a note (a decision, a constraint, something the next stage must know) to the change\'s context pack. Recorded with you as its author.',
      inputSchema: { ...AddOptions, text: z.string().min(1).max(100_000).describe('The note, in Markdown.') },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    tool('add_context_note', async ({ changeId, title, text: note }: { changeId?: string; title?: string; text: string }) => {
      const change = await changeOf(changeId);
      requireTrust('add to the context pack');
      if (!note.trim()) throw new ToolRefusal('The note is empty.');
      const stageId = binding.attemptId ? stageOf(change, undefined).id : undefined;
      const edit = await packs.addNote(change.id, { text: note, ...(title ? { title } : {}), ...(stageId ? { stageId } : {}) });
      return { ...text(`Added the note. The pack is now version ${edit.pack.version.slice(0, 12)} (${edit.pack.items.length} items).`, { changeId: change.id, changed: edit.changed, itemIds: edit.itemIds, version: edit.pack.version }), changeId: change.id, ...(stageId ? { stageId } : {}) };
    }),
  );

  server.registerTool(
    'get_handoff',
    {
      title: 'The handoff into the stage',
      description: 'What the previous stage handed to this one: its summary, its outputs, the context pack version it carried forward, and the failures fed back (a failed attempt, failed criteria, a reviewer\'s send-back note). Read it before starting work.',
      inputSchema: { changeId: ChangeId, stageId: StageIdInput },
      annotations: READ_ONLY,
    },
    tool('get_handoff', async ({ changeId, stageId }: { changeId?: string; stageId?: string }) => {
      const change = await changeOf(changeId);
      const stage = stageOf(change, stageId);
      const [events, pipe] = await Promise.all([factory.events(change.id), pipeline()]);
      const handoff = handoffInto(events, pipe, stage.id);
      const failures = failuresOf(events, stage.id, 'retry');
      if (binding.attemptId && handoff?.contextVersion) await record(change.id, { type: 'context.fetched', data: { contextVersion: handoff.contextVersion, what: 'handoff', tool: 'get_handoff', stageId: stage.id } });
      const lines = [
        `Handoff into ${stage.id} (${stage.title}):`,
        handoff ? `From ${handoff.fromStage}${handoff.contextVersion ? `, context pack version ${handoff.contextVersion.slice(0, 12)}` : ''}.` : 'No handoff yet: this is the first stage, or the stage before it has not handed off.',
        ...(handoff?.summary ? ['Summary:', handoff.summary] : []),
        ...(handoff?.outputs.length ? [`Outputs: ${handoff.outputs.join(', ')}`] : []),
        ...(failures ? ['Failures fed back:', failures] : []),
      ];
      return {
        ...text(lines.join('\n'), { changeId: change.id, stageId: stage.id, fromStage: handoff?.fromStage ?? null, summary: handoff?.summary ?? null, outputs: handoff?.outputs ?? [], contextVersion: handoff?.contextVersion ?? null, failures: failures ?? null }),
        changeId: change.id,
        stageId: stage.id,
        fetched: Boolean(handoff?.contextVersion),
      };
    }),
  );

  server.registerTool(
    'get_criteria',
    {
      title: "The stage's verification criteria",
      description: 'The criteria that verify the stage (commands, test reports, files that must exist, screenshots, human approval), which are required, and their latest results. Check them before you finish.',
      inputSchema: { changeId: ChangeId, stageId: StageIdInput },
      annotations: READ_ONLY,
    },
    tool('get_criteria', async ({ changeId, stageId }: { changeId?: string; stageId?: string }) => {
      const change = await changeOf(changeId);
      const stage = stageOf(change, stageId);
      const definition = (await pipeline()).stages.find((s) => s.id === stage.id);
      const criteria = (definition?.verification ?? []).map((c) => {
        const result = stage.results.find((r) => (r as { criterionId?: string }).criterionId === c.id) as { outcome?: string; stale?: boolean } | undefined;
        return { id: c.id, kind: c.kind, description: (c as { description?: string }).description ?? null, required: (c as { required?: boolean }).required !== false, latest: result?.outcome ?? null, stale: result?.stale ?? false, definition: c };
      });
      const lines = [`Criteria of ${stage.id} (${stage.title}): ${criteria.length || 'none'}`, ...criteria.map((c) => `- ${c.id} [${c.kind}]${c.required ? '' : ' (advisory)'}${c.description ? `: ${c.description}` : ''}${c.latest ? ` — latest ${c.latest}${c.stale ? ' (stale)' : ''}` : ''}`), ...(definition?.outputs.length ? [`Outputs it must produce: ${definition.outputs.join(', ')}`] : [])];
      return { ...text(lines.join('\n'), { changeId: change.id, stageId: stage.id, criteria, outputs: definition?.outputs ?? [] }), changeId: change.id, stageId: stage.id };
    }),
  );

  server.registerTool(
    'run_verification',
    {
      title: "Run the stage's verification",
      description: "Runs the stage's verification criteria now (commands, test reports, files) and returns the verdict, bound to the git tree it verified. Refused in an untrusted workspace.",
      inputSchema: { changeId: ChangeId, stageId: StageIdInput },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    tool('run_verification', async ({ changeId, stageId }: { changeId?: string; stageId?: string }) => {
      const change = await changeOf(changeId);
      requireTrust('run verification commands');
      const stage = stageOf(change, stageId);
      const run = await factory.verifyStage({ changeId: change.id, stageId: stage.id, ...(binding.attemptId ? { attemptId: binding.attemptId } : {}) });
      const verdict = run.passed ? 'passed' : run.waitingForApproval ? 'waiting for approval' : run.cancelled ? 'cancelled' : 'failed';
      const results = run.results.map((r) => {
        const x = r as { criterionId?: string; outcome?: string; message?: string; failureFeedback?: string };
        return { criterionId: x.criterionId ?? null, outcome: x.outcome ?? null, message: x.message ?? x.failureFeedback ?? null };
      });
      const lines = [`Verification of ${stage.id}: ${verdict} at tree ${run.tree.slice(0, 12)}`, ...results.map((r) => `- ${r.criterionId}: ${r.outcome}${r.message ? ` — ${r.message}` : ''}`), ...(run.failureFeedback ? ['What to fix:', run.failureFeedback] : [])];
      return { ...text(lines.join('\n'), { changeId: change.id, stageId: stage.id, verdict, passed: run.passed, tree: run.tree, results, failureFeedback: run.failureFeedback ?? null }), changeId: change.id, stageId: stage.id };
    }),
  );

  const noteTool = (name: string, kind: 'progress' | 'summary', title: string, description: string) =>
    server.registerTool(
      name,
      {
        title,
        description,
        inputSchema: { changeId: ChangeId, text: z.string().min(1).max(20_000).describe(kind === 'summary' ? 'The summary, in Markdown.' : 'The note, one or two sentences.') },
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      },
      tool(name, async ({ changeId, text: note }: { changeId?: string; text: string }) => {
        const change = await changeOf(changeId);
        requireTrust('write to the record');
        if (!note.trim()) throw new ToolRefusal('The text is empty.');
        if (!binding.attemptId) throw new ToolRefusal(`No attempt is running for this server: ${name} records for the attempt the factory started you in. Use add_context_note to leave a note in the context pack instead.`);
        const stageId = stageOf(change, undefined).id;
        const event = await record(change.id, { type: 'attempt.noted', data: { kind, text: note, tool: name, stageId } });
        return { ...text(`Recorded for attempt ${binding.attemptId} of ${stageId}.`, { changeId: change.id, stageId, attemptId: binding.attemptId, eventId: event?.id ?? null }), changeId: change.id, stageId, fetched: true };
      }),
    );
  noteTool('record_progress', 'progress', 'Record a progress note', 'Records a short progress note for the running attempt (what you did, what is next), so a person watching the stage sees it.');
  noteTool('record_handoff_summary', 'summary', 'Record the handoff summary', 'Records your handoff summary for the running attempt: what you did, what the next stage must know. The next stage receives it.');

  function requireTrust(what: string): void {
    if (!factory.isTrusted()) throw new ToolRefusal(`This workspace is not trusted: Factory Cockpit does not ${what} here. The user must trust the folder first.`);
  }

  server.registerResource(
    'pipeline',
    'factory://pipeline',
    { title: 'Pipeline definition', description: "The factory's pipeline (.factory/pipeline.json as validated): stages, owners, prompts, outputs, criteria, retry and autonomy.", mimeType: 'application/json' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(await pipeline(), null, 2) }] }),
  );

  server.registerResource(
    'timeline',
    new ResourceTemplate('factory://changes/{changeId}/timeline', {
      list: async () => {
        const state = await factory.readState();
        const ids = binding.changeId ? [binding.changeId] : state.changes.map((c) => c.id);
        return { resources: ids.map((id) => ({ uri: `factory://changes/${id}/timeline`, name: `${id} timeline`, mimeType: 'application/json' })) };
      },
    }),
    { title: "A change's timeline", description: "The change's events in order (type, time, actor, payload): the record a reviewer steps through.", mimeType: 'application/json' },
    async (uri, variables) => {
      const raw = variables.changeId;
      const id = Array.isArray(raw) ? raw[0] : raw;
      // A sentence, not zod's issue list as JSON, for an id that names a path or nothing.
      if (typeof id !== 'string' || !CHANGE_ID.test(id)) throw new ToolRefusal(`"${String(id).slice(0, 100)}" is not a change id (lowercase letters, digits and dashes, at most 80).`);
      const change = await changeOf(id);
      const events = await factory.events(change.id);
      const timeline = events.map((e) => ({ id: e.id, type: e.type, at: e.at, by: e.by?.name ?? null, data: e.data }));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ changeId: change.id, events: timeline }) }] };
    },
  );

  return server;
}

/** The latest handoff into `stageId`: its `toStage`, or the stage before it (as the stage runner reads it). */
export function handoffInto(events: readonly FactoryEvent[], pipeline: Pipeline, stageId: string): { fromStage: string; summary?: string; outputs: string[]; contextVersion?: string } | undefined {
  const index = pipeline.stages.findIndex((s) => s.id === stageId);
  const before = pipeline.stages[index - 1]?.id;
  let found: { fromStage: string; summary?: string; outputs: string[]; contextVersion?: string } | undefined;
  for (const event of events) {
    if (!isEvent(event, 'handoff.recorded')) continue;
    const to = event.data.toStage ?? pipeline.stages[pipeline.stages.findIndex((s) => s.id === event.data.fromStage) + 1]?.id;
    if (to === stageId || (!event.data.toStage && event.data.fromStage === before)) found = event.data;
  }
  return found;
}

/** The MCP tools an attempt called, from its record (for the attempt's view and the report). */
export function toolsCalledBy(events: readonly FactoryEvent[], attemptId: string): string[] {
  const tools = new Set<string>();
  for (const event of events) {
    const data = event.data as { attemptId?: string; tool?: string };
    if (data.attemptId !== attemptId || !data.tool) continue;
    if (event.type === 'attempt.toolCalled' || event.type === 'context.fetched' || event.type === 'attempt.noted') tools.add(data.tool);
  }
  return [...tools];
}
