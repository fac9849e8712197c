import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claudeCodePreset, codexPreset } from '../../../src/backends/presets';
import { backendsConfigFrom, manifestSettings } from '../../../src/backends/catalog';
import type { AttemptRequest } from '../../../src/backends/types';
import { acpMcpServers } from '../../../src/backends/acp';
import { createClaudeCodeParser } from '../../../src/backends/parsers/claudeCode';
import { factoryMcpServer, locateCliBundle, mcpPromptNote } from '../../../src/engine/mcpRun';

// The factory's MCP server passed per run to the agent, bound to the change and the attempt.
describe('mcp: passing the server to a run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fc-mcp-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const passing = (id: string) => ({ id, passesMcpServer: true });
  const serverFor = (id: string) => factoryMcpServer({ root: '/ws', changeId: 'c1', attemptId: '01JAAAAAAAAAAAAAAAAAAAAAAA', backend: passing(id), cliPath: '/opt/fc/dist/cli.js' })!;
  const spec = () => serverFor('claude-code');

  it('binds the server to the change, the attempt and the agent; only backends that take one per run get it', () => {
    assert.deepEqual(spec().args, ['/opt/fc/dist/cli.js', '--root', '/ws', 'mcp', '--change', 'c1', '--attempt', '01JAAAAAAAAAAAAAAAAAAAAAAA', '--agent', 'claude-code']);
    assert.equal(spec().command, process.execPath);
    assert.equal(factoryMcpServer({ root: '/ws', changeId: 'c1', attemptId: 'x', backend: { id: 'aider' }, cliPath: '/opt/fc/dist/cli.js' }), undefined);
    assert.equal(factoryMcpServer({ root: '/ws', changeId: 'c1', attemptId: 'x', backend: { id: 'claude-code', passesMcpServer: false }, cliPath: '/opt/fc/dist/cli.js' }), undefined, 'its mcp setting is off');
    assert.match(mcpPromptNote(spec()), /mcp__factory__\*.*get_handoff.*get_context/s);
  });

  it('finds the CLI bundle this process runs (with dist/mcp.js beside it), else offers none', () => {
    writeFileSync(join(dir, 'cli.js'), '');
    assert.equal(locateCliBundle({}, ['node', join(dir, 'cli.js')]), undefined, 'no mcp.js beside it');
    writeFileSync(join(dir, 'mcp.js'), '');
    assert.equal(locateCliBundle({}, ['node', join(dir, 'cli.js')]), join(dir, 'cli.js'));
    assert.equal(locateCliBundle({}, ['node', '/usr/lib/node_modules/mocha/bin/mocha.js']), undefined);
  });

  it('Claude Code gets --mcp-config (a file of the run), --strict-mcp-config and the tools allowed; the setting turns it off', () => {
    const promptFile = join(dir, 'prompt.md');
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: {}, mcpServer: spec() };
    const config = backendsConfigFrom(() => undefined)['claude-code']!;
    assert.equal(config.mcp, true, 'on by default');
    const { args } = claudeCodePreset.buildInvocation({ attempt, config, model: undefined, prompt: 'p', promptFile, contextFile: join(dir, 'context.md') });
    const at = args.indexOf('--mcp-config');
    assert.ok(at > 0);
    assert.equal(args[at + 1], join(dir, 'mcp.json'));
    assert.ok(args.includes('--strict-mcp-config'));
    assert.equal(args[args.lastIndexOf('--allowedTools') + 1], 'mcp__factory');
    const file = JSON.parse(readFileSync(join(dir, 'mcp.json'), 'utf8')) as { mcpServers: Record<string, { type: string; command: string; args: string[] }> };
    assert.deepEqual(file.mcpServers.factory, { type: 'stdio', command: process.execPath, args: spec().args, env: {} });

    const off = backendsConfigFrom((key) => (key === 'factory.backends.claude-code.mcp' ? false : undefined))['claude-code']!;
    const none = claudeCodePreset.buildInvocation({ attempt, config: off, model: undefined, prompt: 'p', promptFile, contextFile: '' }).args;
    assert.ok(!none.includes('--mcp-config') && !none.includes('--strict-mcp-config'));
    assert.ok(manifestSettings()['factory.backends.claude-code.mcp'], 'the manifest declares the setting');
  });

  it("warns when Claude Code reports the server did not start (it still exits 0 with result success)", () => {
    const parser = createClaudeCodeParser({ cwd: '/ws' });
    const init = (status: string) => JSON.stringify({ type: 'system', subtype: 'init', session_id: 's1', model: 'm', claude_code_version: '2.1.332', mcp_servers: [{ name: 'factory', status }] });
    const failed = parser.parse(init('failed'));
    assert.ok(failed.some((e) => e.kind === 'session'));
    const warning = failed.find((e) => e.kind === 'error') as { message: string; fatal: boolean } | undefined;
    assert.ok(warning && !warning.fatal);
    assert.match(warning.message, /"factory" did not start.*failed/);
    assert.ok(!createClaudeCodeParser({ cwd: '/ws' }).parse(init('connected')).some((e) => e.kind === 'error'));
  });

  it('Codex gets the server as -c mcp_servers.factory.… for this run, its tools approved; the setting turns it off', () => {
    const server = serverFor('codex');
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: {}, mcpServer: server };
    const config = backendsConfigFrom(() => undefined).codex!;
    const { args } = codexPreset.buildInvocation({ attempt, config, model: undefined, prompt: 'p', promptFile: join(dir, 'p'), contextFile: '' });
    const overrides = args.filter((_, i) => args[i - 1] === '-c');
    assert.deepEqual(overrides, [
      `mcp_servers.factory.command=${JSON.stringify(process.execPath)}`,
      `mcp_servers.factory.args=${JSON.stringify(server.args)}`,
      'mcp_servers.factory.default_tools_approval_mode="approve"',
    ]);
    assert.equal(args[args.length - 1], '-', 'the prompt still comes last, from stdin');
    const off = backendsConfigFrom((key) => (key === 'factory.backends.codex.mcp' ? false : undefined)).codex!;
    assert.ok(!codexPreset.buildInvocation({ attempt, config: off, model: undefined, prompt: 'p', promptFile: '', contextFile: '' }).args.some((a) => a.startsWith('mcp_servers.')));
  });

  it('an ACP agent gets the server in session/new (stdio, env as name/value pairs); the setting turns it off', () => {
    const server = { ...serverFor('acp'), env: { A: '1' } };
    const attempt: AttemptRequest = { prompt: 'p', cwd: '/ws', env: {}, mcpServer: server };
    assert.deepEqual(acpMcpServers(attempt, {}), [{ name: 'factory', command: process.execPath, args: server.args, env: [{ name: 'A', value: '1' }] }]);
    assert.deepEqual(acpMcpServers(attempt, { mcp: false } as never), []);
    assert.deepEqual(acpMcpServers({ ...attempt, mcpServer: undefined }, {}), []);
  });
});
