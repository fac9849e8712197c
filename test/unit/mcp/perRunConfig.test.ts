// Gemini CLI and Factory Droid get the factory's MCP server per run (#18): the run's own
// config (Gemini: its own GEMINI_CLI_HOME; Droid: a --settings runtime file), never the
// user's; and what each agent reports about the server becomes the attempt's mcpStatus.
import { strict as assert } from 'node:assert';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttemptFacts } from '../../../src/backends/attemptFacts';
import { backendsConfigFrom } from '../../../src/backends/catalog';
import { CliBackend, type CliBackendConfig } from '../../../src/backends/cliBackend';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { createGeminiParser } from '../../../src/backends/parsers/gemini';
import { droidPreset, geminiPreset, geminiMcpInvocation, stripJsonComments } from '../../../src/backends/presets';
import type { AttemptRequest, McpServerSpec } from '../../../src/backends/types';
import { foldChange } from '../../../src/core/fold';
import type { FactoryEvent } from '../../../src/core/events';
import { factoryMcpServer, MCP_CAPABLE_BACKENDS } from '../../../src/engine/mcpRun';
import { findRecordedAttempt } from '../../../src/engine/transcriptReplay';
import { mcpSummary } from '../../../src/core/mcpSummary';
import { collect, fake, fakeEnv, tempWorkspace, type Workspace } from '../backends/helpers';

const ATTEMPT = '01JAAAAAAAAAAAAAAAAAAAAAAA';
const serverFor = (backend: string): McpServerSpec => factoryMcpServer({ root: '/ws', changeId: 'c1', attemptId: ATTEMPT, backend: { id: backend, passesMcpServer: true }, cliPath: '/opt/fc/dist/cli.js' })!;
const configOf = (id: string, mcp?: boolean): CliBackendConfig => backendsConfigFrom((key) => (key === `factory.backends.${id}.mcp` ? mcp : undefined))[id] as CliBackendConfig;

describe('mcp: Gemini CLI and Factory Droid take the server per run', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'fc-mcp-perrun-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('both are offered the server now, and their mcp setting (on by default) turns it off', () => {
    assert.ok(MCP_CAPABLE_BACKENDS.has('gemini') && MCP_CAPABLE_BACKENDS.has('droid'));
    assert.ok(!MCP_CAPABLE_BACKENDS.has('aider'));
    for (const preset of [geminiPreset, droidPreset]) {
      assert.equal(new CliBackend(preset, configOf(preset.id)).passesMcpServer, true, preset.id);
      assert.equal(new CliBackend(preset, configOf(preset.id, false)).passesMcpServer, false, preset.id);
    }
  });

  it("Gemini: a home of the run's own whose settings.json is the user's plus the server; everything else links to the user's; the user's file is untouched", () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.gemini', 'tmp'), { recursive: true });
    const userSettings = '{\n  // signed in with a key\n  "security": {"auth": {"selectedType": "gemini-api-key"}},\n  "mcpServers": {"mine": {"command": "my-server", "url": "http://x//y"}}\n}\n';
    writeFileSync(join(home, '.gemini', 'settings.json'), userSettings);
    writeFileSync(join(home, '.gemini', 'oauth_creds.json'), '{}');
    const promptFile = join(dir, 'attempt', 'prompt.md');
    mkdirSync(join(dir, 'attempt'));
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: { HOME: home }, mcpServer: serverFor('gemini') };

    const mcp = geminiMcpInvocation(attempt, configOf('gemini'), promptFile);
    const runHome = join(dir, 'attempt', 'gemini-home');
    assert.deepEqual(mcp.args, ['--allowed-mcp-server-names', 'factory']);
    assert.deepEqual(mcp.env, { GEMINI_CLI_HOME: runHome });
    const settings = JSON.parse(readFileSync(join(runHome, '.gemini', 'settings.json'), 'utf8')) as { security: unknown; mcpServers: Record<string, { command: string; args?: string[]; trust?: boolean }> };
    assert.deepEqual(settings.security, { auth: { selectedType: 'gemini-api-key' } }, "the user's sign-in settings carry over");
    assert.equal(settings.mcpServers.mine!.command, 'my-server');
    assert.deepEqual(settings.mcpServers.factory, { command: process.execPath, args: ['/opt/fc/dist/cli.js', '--root', '/ws', 'mcp', '--change', 'c1', '--attempt', ATTEMPT, '--agent', 'gemini'], trust: true });
    assert.equal(readlinkSync(join(runHome, '.gemini', 'oauth_creds.json')), join(home, '.gemini', 'oauth_creds.json'));
    assert.ok(lstatSync(join(runHome, '.gemini', 'tmp')).isSymbolicLink(), 'sessions are written where the user keeps them (--resume works)');
    assert.equal(readFileSync(join(home, '.gemini', 'settings.json'), 'utf8'), userSettings, "the user's settings are never edited");

    // GEMINI_CLI_HOME, when the user set one, is where their settings are.
    const theirs = join(dir, 'their-gemini-home');
    mkdirSync(join(theirs, '.gemini'), { recursive: true });
    writeFileSync(join(theirs, '.gemini', 'settings.json'), '{"model": {"name": "gemini-2.5-pro"}}');
    mkdirSync(join(dir, 'attempt2'));
    const second = geminiMcpInvocation({ ...attempt, env: { HOME: home, GEMINI_CLI_HOME: theirs } }, configOf('gemini'), join(dir, 'attempt2', 'prompt.md'));
    assert.deepEqual((JSON.parse(readFileSync(join(second.env!.GEMINI_CLI_HOME!, '.gemini', 'settings.json'), 'utf8')) as { model: unknown }).model, { name: 'gemini-2.5-pro' });
  });

  it('Gemini: the setting off, or settings that cannot be read, mean no server for the run (the latter says why)', () => {
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: { HOME: join(dir, 'home') }, mcpServer: serverFor('gemini') };
    assert.deepEqual(geminiMcpInvocation(attempt, configOf('gemini', false), join(dir, 'prompt.md')), { args: [] });
    assert.deepEqual(geminiMcpInvocation({ ...attempt, mcpServer: undefined }, configOf('gemini'), join(dir, 'prompt.md')), { args: [] });
    mkdirSync(join(dir, 'home', '.gemini'), { recursive: true });
    writeFileSync(join(dir, 'home', '.gemini', 'settings.json'), '{ "broken": ');
    const broken = geminiMcpInvocation(attempt, configOf('gemini'), join(dir, 'prompt.md'));
    assert.deepEqual(broken.args, []);
    assert.equal(broken.env, undefined);
    assert.match(broken.warning ?? '', /not passed to Gemini CLI.*settings\.json cannot be read/);
    const args = geminiPreset.buildInvocation({ attempt, config: configOf('gemini'), model: undefined, prompt: 'p', promptFile: join(dir, 'prompt.md'), contextFile: '' });
    assert.equal(args.warning, broken.warning, 'the invocation carries the warning to the transcript');
  });

  it('strips line and block comments outside strings only', () => {
    assert.deepEqual(JSON.parse(stripJsonComments('{"a": "http://x/*y*/", /* b */ "b": 1 // c\n}')), { a: 'http://x/*y*/', b: 1 });
  });

  it("Droid: --settings names a runtime settings file of the run's own holding the server under mcp.mcpServers; off, nothing", () => {
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: {}, mcpServer: serverFor('droid') };
    const promptFile = join(dir, 'prompt.md');
    const { args } = droidPreset.buildInvocation({ attempt, config: configOf('droid'), model: undefined, prompt: 'p', promptFile, contextFile: '' });
    const at = args.indexOf('--settings');
    assert.equal(args[at + 1], join(dir, 'droid-settings.json'));
    assert.deepEqual(args.slice(-2), ['--file', promptFile], 'the prompt file still comes last');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'droid-settings.json'), 'utf8')), { mcp: { mcpServers: { factory: { type: 'stdio', command: process.execPath, args: serverFor('droid').args, env: {} } } } });
    assert.ok(!droidPreset.buildInvocation({ attempt, config: configOf('droid', false), model: undefined, prompt: 'p', promptFile, contextFile: '' }).args.includes('--settings'));
  });
});

describe('mcp: the config a (fake) agent reads names the server bound to the change and the attempt', function () {
  this.timeout(30_000);
  let ws: Workspace;
  beforeEach(async () => (ws = await tempWorkspace()));
  afterEach(() => ws.cleanup());

  const boundArgs = (backend: string) => ['/opt/fc/dist/cli.js', '--root', '/ws', 'mcp', '--change', 'c1', '--attempt', ATTEMPT, '--agent', backend];
  const recorded = () => JSON.parse(readFileSync(ws.argsFile, 'utf8')) as { argv: string[]; files: Record<string, string>; configFiles: Record<string, string>; env: { GEMINI_CLI_HOME?: string } };

  it("Gemini CLI reads the run's own settings.json (through GEMINI_CLI_HOME), and the user's HOME keeps theirs", async () => {
    mkdirSync(join(ws.dir, '.gemini'));
    writeFileSync(join(ws.dir, '.gemini', 'settings.json'), '{"security":{"auth":{"selectedType":"gemini-api-key"}}}');
    const backend = new CliBackend(geminiPreset, { path: fake('gemini'), killGraceMs: 500 });
    const { result } = await collect(backend.start({ prompt: 'p', cwd: ws.dir, env: fakeEnv(ws), mcpServer: serverFor('gemini') }));
    assert.equal(result.outcome, 'succeeded', result.reason);
    const seen = recorded();
    assert.ok(seen.env.GEMINI_CLI_HOME && seen.env.GEMINI_CLI_HOME !== ws.dir);
    const [file, text] = Object.entries(seen.configFiles)[0]!;
    assert.equal(file, join(seen.env.GEMINI_CLI_HOME, '.gemini', 'settings.json'));
    const settings = JSON.parse(text) as { mcpServers: Record<string, { command: string; args: string[] }>; security: unknown };
    assert.deepEqual(settings.mcpServers.factory!.args, boundArgs('gemini'));
    assert.ok(settings.security, "the user's settings are in it");
    assert.ok(seen.argv.join(' ').includes('--allowed-mcp-server-names factory'));
    assert.equal(readFileSync(join(ws.dir, '.gemini', 'settings.json'), 'utf8'), '{"security":{"auth":{"selectedType":"gemini-api-key"}}}');
    assert.equal(result.mcpStatus, undefined, 'Gemini said nothing about the server: not known');
  });

  it('Factory Droid reads the --settings file that names the server', async () => {
    const backend = new CliBackend(droidPreset, { path: fake('droid'), killGraceMs: 500 });
    const { result } = await collect(backend.start({ prompt: 'p', cwd: ws.dir, env: fakeEnv(ws), mcpServer: serverFor('droid') }));
    assert.equal(result.outcome, 'succeeded', result.reason);
    const seen = recorded();
    const file = seen.argv[seen.argv.indexOf('--settings') + 1]!;
    const settings = JSON.parse(seen.files[file]!) as { mcp: { mcpServers: Record<string, { args: string[] }> } };
    assert.deepEqual(settings.mcp.mcpServers.factory!.args, boundArgs('droid'));
  });

  it('Gemini CLI saying "MCP issues detected" on stderr makes the attempt record the server as failed, with a warning', async () => {
    const backend = new CliBackend(geminiPreset, { path: fake('gemini'), killGraceMs: 500 });
    const line = 'MCP issues detected. Run /mcp list for status.';
    const { events, result } = await collect(backend.start({ prompt: 'p', cwd: ws.dir, env: fakeEnv(ws, { FAKE_STDERR: line }), mcpServer: serverFor('gemini') }));
    assert.equal(result.outcome, 'succeeded', 'Gemini CLI itself carries on');
    assert.deepEqual(result.mcpStatus, { status: 'failed', detail: line });
    assert.ok(events.some((e) => e.kind === 'error' && !e.fatal && /MCP server did not start for Gemini CLI/.test(e.message)));
  });
});

describe("mcp: what agents report about the server becomes the attempt's status", () => {
  it('Claude Code: system/init mcp_servers, by the name of our server', () => {
    const init = (servers: unknown[]) => JSON.stringify({ type: 'system', subtype: 'init', session_id: 's1', model: 'm', mcp_servers: servers });
    const statusOf = (servers: unknown[]) => {
      const facts = new AttemptFacts();
      createClaudeCodeParser({ cwd: '/ws' }).parse(init(servers)).forEach((e) => facts.observe(e));
      return facts.resultFields(undefined, undefined, 'factory').mcpStatus;
    };
    assert.deepEqual(statusOf([{ name: 'other', status: 'failed' }, { name: 'factory', status: 'connected' }]), { status: 'connected' });
    assert.deepEqual(statusOf([{ name: 'factory', status: 'pending' }]), { status: 'failed', detail: 'status pending' });
    assert.equal(statusOf([]), undefined, 'nothing said: unknown to the engine');
  });

  it('Gemini CLI: only its stderr line says so', () => {
    const parser = createGeminiParser({ cwd: '/ws' });
    assert.deepEqual(parser.stderr!('Ripgrep is not available. Falling back to GrepTool.'), []);
    const [warning] = parser.stderr!('MCP issues detected. Run /mcp list for status.');
    assert.equal(warning?.kind, 'error');
  });

  it('the fold keeps the status and lists the MCP tools each attempt called, once each, in order', () => {
    const pipeline = { version: 1, budget: {}, stages: [{ id: 'plan', title: 'Plan', role: 'plan', owner: { backend: 'claude-code' }, autonomy: 'approve', verification: [], outputs: [], inputs: [], retry: { maxAttempts: 1 }, budget: {}, prompt: '' }] } as never;
    let n = 0;
    const ev = (type: string, data: Record<string, unknown>): FactoryEvent => ({ v: 1, id: `01JB${String(n++).padStart(22, '0')}`, type, at: '2026-01-01T00:00:00.000Z', change: 'c1', data }) as FactoryEvent;
    const other = '01JCAAAAAAAAAAAAAAAAAAAAAA';
    const events = [
      ev('change.created', { title: 'T' }),
      ev('attempt.started', { stageId: 'plan', attemptId: ATTEMPT, backend: 'claude-code' }),
      ev('context.fetched', { attemptId: ATTEMPT, contextVersion: 'v1', what: 'pack', tool: 'get_context' }),
      ev('attempt.toolCalled', { attemptId: ATTEMPT, tool: 'get_criteria', server: 'factory', ok: true }),
      ev('attempt.toolCalled', { attemptId: ATTEMPT, tool: 'get_context', server: 'factory', ok: true }),
      ev('attempt.noted', { attemptId: ATTEMPT, kind: 'summary', text: 'done', tool: 'record_handoff_summary' }),
      ev('attempt.toolCalled', { attemptId: other, tool: 'get_change', server: 'factory', ok: true }),
      ev('attempt.finished', { stageId: 'plan', attemptId: ATTEMPT, outcome: 'succeeded', mcpStatus: { status: 'failed', detail: 'status failed' } }),
    ];
    const attempt = foldChange('c1', pipeline, events).stages[0]!.attempts[0]!;
    assert.deepEqual(attempt.mcpTools, ['get_context', 'get_criteria', 'record_handoff_summary']);
    assert.deepEqual(attempt.mcpStatus, { status: 'failed', detail: 'status failed' });
    // The transcript panel reads an attempt from the events alone: the same tools and status, the same words.
    const recorded = findRecordedAttempt(events, ATTEMPT)!;
    assert.deepEqual([recorded.mcpTools, recorded.mcpStatus], [attempt.mcpTools, attempt.mcpStatus]);
    assert.deepEqual(mcpSummary(recorded), {
      tools: 'MCP tools called: get_context, get_criteria, record_handoff_summary',
      server: "The factory's MCP server did not start (status failed): the agent could not use its tools.",
      failed: true,
    });
    assert.deepEqual(mcpSummary({}), { failed: false }, 'no server passed, no tools: nothing to say');
    const newer = foldChange('c1', pipeline, [...events.slice(0, 2), ev('attempt.finished', { stageId: 'plan', attemptId: ATTEMPT, outcome: 'succeeded', mcpStatus: { status: 'degraded' } })]);
    assert.deepEqual(newer.stages[0]!.attempts[0]!.mcpStatus, { status: 'unknown' }, 'a status a newer version writes reads as unknown');
    assert.equal(newer.stages[0]!.attempts[0]!.mcpTools, undefined);
  });
});
