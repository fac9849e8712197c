// A client from the SDK connects over stdio to the built server (dist/cli.js mcp →
// dist/mcp.js) in a generated repository, calls every tool and resource, and checks
// what it gets against the engine's state (the CLI's JSON on the same record). Bad
// inputs — wrong types, a path out of the workspace, an unknown change, an untrusted
// folder — get a tool error with a sentence and leave .factory/ byte for byte as it was.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ulid } from 'ulid';
import { buildCli, CLI, cli, json, REPO, sandbox, type Sandbox } from '../cli/helpers';

const ALL_TOOLS = ['add_context_file', 'add_context_note', 'get_change', 'get_context', 'get_context_item', 'get_criteria', 'get_handoff', 'list_context_items', 'record_handoff_summary', 'record_progress', 'run_verification'];
const READ_ONLY_TOOLS = ['get_change', 'get_context', 'get_context_item', 'get_criteria', 'get_handoff', 'list_context_items'];

interface EventFile {
  type: string;
  by?: { name: string };
  data: Record<string, unknown>;
}

/** Every file under .factory/ with its sha256: what "changes nothing on disk" is checked against. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const file = join(d, name);
      if (statSync(file).isDirectory()) walk(file);
      else out.set(relative(dir, file), createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  walk(join(dir, '.factory'));
  return out;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

async function connect(box: Sandbox, args: string[] = [], extraEnv: Record<string, string> = {}, name = 'e2e-client'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  const env = Object.fromEntries(Object.entries({ ...box.env, ...extraEnv }).filter((e): e is [string, string] => typeof e[1] === 'string'));
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...args], cwd: box.dir, env, stderr: 'pipe' }));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

describe('mcp: the server over stdio, as an agent sees it', function () {
  this.timeout(120_000);
  let box: Sandbox;
  let changeId: string;
  const clients: Client[] = [];

  before(() => {
    buildCli();
    assert.ok(existsSync(join(REPO, 'dist', 'mcp.js')), 'the server is bundled apart in dist/mcp.js');
  });
  beforeEach(() => {
    box = sandbox();
    assert.equal(cli(box, ['init']).code, 0);
    const started = json<{ change: { id: string } }>(cli(box, ['--json', 'change', 'start', 'Add login', '--branch', 'none', '--description', 'Users log in.']));
    changeId = started.change.id;
    assert.equal(cli(box, ['context', 'note', 'Keep the API backwards compatible.']).code, 0);
    assert.equal(cli(box, ['context', 'add', 'notes.md']).code, 0);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    box.cleanup();
  });

  it('lists every tool with a description, a schema and the read-only annotation where it reads only; every tool and resource answers from the engine', async () => {
    const client = await connect(box);
    clients.push(client);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ALL_TOOLS);
    for (const t of tools) {
      assert.ok(t.description && t.description.length > 40, `${t.name} has a description`);
      assert.equal(t.inputSchema.type, 'object');
      assert.equal(t.annotations?.readOnlyHint === true, READ_ONLY_TOOLS.includes(t.name), `${t.name} read-only annotation`);
    }

    const status = json<{ change: { id: string; stages: { id: string; status: string }[] } }>(cli(box, ['--json', 'status']));
    const change = await call(client, 'get_change');
    assert.ok(!change.isError, textOf(change));
    const sc = change.structuredContent as { changeId: string; stages: { id: string; status: string }[] };
    assert.equal(sc.changeId, status.change.id);
    assert.deepEqual(sc.stages.map((s) => [s.id, s.status]), status.change.stages.map((s) => [s.id, s.status]));
    assert.match(textOf(change), /Add login/);

    const rendered = json<{ packVersion: string; text: string }>(cli(box, ['--json', 'context', 'render']));
    const context = await call(client, 'get_context', { budgetTokens: 50_000 });
    const cs = context.structuredContent as { version: string; items: { id: string; kind: string }[] };
    assert.equal(cs.version, rendered.packVersion);
    assert.equal(textOf(context), rendered.text);
    assert.deepEqual(cs.items.map((i) => i.kind).sort(), ['file', 'note']);

    const list = await call(client, 'list_context_items');
    assert.equal((list.structuredContent as { version: string }).version, rendered.packVersion);
    const note = cs.items.find((i) => i.kind === 'note')!;
    const item = await call(client, 'get_context_item', { itemId: note.id });
    assert.match(textOf(item), /backwards compatible/);

    const added = await call(client, 'add_context_note', { text: 'Sessions expire after 30 minutes.' });
    assert.ok(!added.isError, textOf(added));
    const file = await call(client, 'add_context_file', { path: 'README.md', startLine: 1, endLine: 1 });
    assert.ok(!file.isError, textOf(file));
    const after = json<{ packVersion: string; items: unknown[] }>(cli(box, ['--json', 'context', 'list']));
    assert.equal(after.items.length, 4);
    assert.equal((file.structuredContent as { version: string }).version, after.packVersion);

    const handoff = await call(client, 'get_handoff');
    assert.match(textOf(handoff), /Handoff into plan/);
    const criteria = await call(client, 'get_criteria', { stageId: 'plan' });
    assert.deepEqual((criteria.structuredContent as { criteria: { id: string }[] }).criteria.map((c) => c.id), ['plan-written']);

    const verify = await call(client, 'run_verification', { stageId: 'plan' });
    const vs = verify.structuredContent as { verdict: string; tree: string; passed: boolean };
    assert.equal(vs.passed, false, 'PLAN.md is missing');
    assert.match(vs.tree, /^[0-9a-f]{40}/);
    const events = await readEvents(box, changeId);
    const recorded = events.filter((e) => e.type === 'verification.recorded');
    // The verdict is bound to the tree it verified, as the record has it.
    assert.ok(recorded.length >= 1);
    for (const e of recorded) assert.equal((e.data.verified as { tree?: string } | undefined)?.tree, vs.tree);
    // What an unbound client records carries its own name as actor.
    assert.ok(events.some((e) => e.type === 'context.itemAdded' && e.by?.name === 'e2e-client'));

    const { resources } = await client.listResources();
    assert.ok(resources.some((r) => r.uri === 'factory://pipeline'));
    assert.ok(resources.some((r) => r.uri === `factory://changes/${changeId}/timeline`));
    const pipeline = await client.readResource({ uri: 'factory://pipeline' });
    const stages = (JSON.parse((pipeline.contents[0] as { text: string }).text) as { stages: { id: string }[] }).stages.map((s) => s.id);
    assert.deepEqual(stages, status.change.stages.map((s) => s.id));
    const timeline = await client.readResource({ uri: `factory://changes/${changeId}/timeline` });
    const tl = JSON.parse((timeline.contents[0] as { text: string }).text) as { events: { type: string }[] };
    assert.equal(tl.events.length, (await readEvents(box, changeId)).length);
    assert.equal(tl.events[0]!.type, 'change.created');

    // Notes are for a running attempt: unbound, it says so.
    const progress = await call(client, 'record_progress', { text: 'half way' });
    assert.equal(progress.isError, true);
    assert.match(textOf(progress), /No attempt is running/);
  });

  it('bad inputs get a tool error with a sentence and change nothing on disk', async () => {
    const client = await connect(box);
    clients.push(client);
    const before = snapshot(box.dir);
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['get_context', { budgetTokens: 'many' }, /budgetTokens|number/i],
      ['get_context_item', { itemId: 42 }, /itemId|string/i],
      ['add_context_file', { path: '../outside.txt' }, /outside|workspace/i],
      ['add_context_file', { path: '/etc/passwd' }, /outside|workspace|absolute/i],
      ['add_context_file', { path: 'no-such-file.md' }, /no-such-file/],
      ['add_context_note', { text: '   ' }, /empty/],
      ['get_change', { changeId: 'no-such-change' }, /no change "no-such-change"/],
      ['get_change', { changeId: '../../etc' }, /change id/],
      ['get_context_item', { itemId: 'missing' }, /no item "missing"/],
      ['get_criteria', { stageId: 'deploy' }, /no stage "deploy"/],
      ['run_verification', { stageId: 'deploy' }, /no stage "deploy"/],
    ];
    for (const [name, args, message] of bad) {
      const result = await call(client, name, args);
      assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} is an error`);
      assert.match(textOf(result), message, `${name}: ${textOf(result)}`);
    }
    // A timeline of an id that names a path: a sentence, not zod's issues as JSON.
    for (const id of ['..%2F..%2Fetc', '__proto__', 'UPPER']) {
      await assert.rejects(client.readResource({ uri: `factory://changes/${id}/timeline` }), (error: Error) => /is not a change id/.test(error.message) && !error.message.includes('"code"'));
    }
    assert.deepEqual(snapshot(box.dir), before);
  });

  it('in an untrusted folder, verification and writes are refused with a sentence; reads still answer; nothing is written', async () => {
    const client = await connect(box, ['--untrusted']);
    clients.push(client);
    const before = snapshot(box.dir);
    const verify = await call(client, 'run_verification', { stageId: 'plan' });
    assert.equal(verify.isError, true);
    assert.match(textOf(verify), /not trusted.*run verification/);
    const note = await call(client, 'add_context_note', { text: 'x' });
    assert.equal(note.isError, true);
    assert.match(textOf(note), /not trusted/);
    const context = await call(client, 'get_context');
    assert.ok(!context.isError, textOf(context));
    assert.deepEqual(snapshot(box.dir), before);
  });

  it('bound to an attempt, what the agent does lands in the record with the agent as actor and the attempt', async () => {
    const attemptId = ulid();
    const client = await connect(box, ['--change', changeId, '--attempt', attemptId, '--agent', 'codex']);
    clients.push(client);
    const context = await call(client, 'get_context');
    const version = (context.structuredContent as { version: string }).version;
    await call(client, 'get_change');
    await call(client, 'record_progress', { text: 'Read the pack; planning.' });
    await call(client, 'record_handoff_summary', { text: 'Plan written.' });
    const other = await call(client, 'get_change', { changeId: 'another-change' });
    assert.equal(other.isError, true);
    assert.match(textOf(other), /bound to change/);

    const events = await readEvents(box, changeId);
    const mine = events.filter((e) => e.data.attemptId === attemptId);
    assert.ok(mine.every((e) => e.by?.name === 'codex'));
    const fetched = mine.find((e) => e.type === 'context.fetched')!;
    assert.equal(fetched.data.contextVersion, version);
    assert.deepEqual(mine.filter((e) => e.type === 'attempt.noted').map((e) => [e.data.kind, e.data.text]), [['progress', 'Read the pack; planning.'], ['summary', 'Plan written.']]);
    const { toolsCalledBy } = await import('../../../src/mcp/server');
    assert.deepEqual(toolsCalledBy(events as never, attemptId).sort(), ['get_change', 'get_context', 'record_handoff_summary', 'record_progress']);
  });
});

async function readEvents(box: Sandbox, changeId: string): Promise<EventFile[]> {
  const { FileRecordStore } = await import('../../../src/store/recordStore');
  const store = new FileRecordStore(box.dir);
  return (await store.readChange(changeId)).events as unknown as EventFile[];
}
