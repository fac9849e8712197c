// A real Claude Code (installed from npm as AGENT-CLIS.md says, found through
// FACTORY_COCKPIT_CLAUDE or the cache folder below) runs a stage through the engine
// (the built CLI) against a local mock model whose scripted turn calls the factory's
// MCP tool get_context. The run passes the server per run (--mcp-config); the record
// shows the tool call and the pack version it consumed, with the agent as actor and the
// attempt. Skipped, with the reason, where no Claude Code is installed.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, cliAsync, cli, json, REPO, sandbox, type Sandbox } from '../cli/helpers';
import { checkAttemptsContext } from '../../../src/core/signal';
import type { FactoryEvent } from '../../../src/core/events';

// Installed by scripts/setup-agents.sh (which .ci/run calls).
const CLAUDE = process.env.FACTORY_COCKPIT_CLAUDE ?? join(process.env.FACTORY_AGENTS_CACHE ?? join(homedir(), '.cache', 'factory-cockpit-agents'), 'claude-code-2.1.332', 'node_modules', '@anthropic-ai', 'claude-code-linux-x64', 'claude');

describe('mcp: a real Claude Code calls the factory server during a stage run', function () {
  this.timeout(240_000);
  let box: Sandbox;
  let mock: ChildProcess | undefined;

  before(function () {
    // Never skipped: a missing CLI is a setup problem, named.
    assert.ok(existsSync(CLAUDE), `no Claude Code at ${CLAUDE}: run scripts/setup-agents.sh`);
    buildCli();
  });
  afterEach(() => {
    mock?.kill();
    box?.cleanup();
  });

  it('the record shows the MCP tool call and the consumed pack version, and the signal counts it', async () => {
    box = sandbox();
    const log = join(mkdtempSync(join(tmpdir(), 'fc-mcp-mock-')), 'requests.jsonl');
    mock = spawn(process.execPath, [join(REPO, 'test', 'fixtures', 'mcp', 'mock-anthropic-mcp.mjs')], { env: { ...process.env, MOCK_LOG: log }, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      mock!.stdout!.on('data', (d: Buffer) => {
        const m = /PORT (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      mock!.on('exit', () => reject(new Error('the mock model exited')));
    });
    const env = {
      FACTORY_BACKENDS_CLAUDE_CODE_PATH: CLAUDE,
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
      ANTHROPIC_API_KEY: 'sk-mock',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ENABLE_TOOL_SEARCH: 'false',
    };
    assert.equal(cli(box, ['init']).code, 0);
    const changeId = json<{ change: { id: string } }>(cli(box, ['--json', 'change', 'start', 'Add login', '--branch', 'none'])).change.id;
    assert.equal(cli(box, ['context', 'note', 'The login form posts to /api/session.']).code, 0);

    const run = await cliAsync(box, ['run', 'plan'], env);
    // PLAN.md is not written by this scripted model: the stage's criterion fails, the attempt itself succeeds.
    assert.ok([0, 1].includes(run.code), run.stderr);

    const { FileRecordStore } = await import('../../../src/store/recordStore');
    const events = (await new FileRecordStore(box.dir).readChange(changeId)).events as FactoryEvent[];
    const started = events.find((e) => e.type === 'attempt.started')!;
    const attemptId = (started.data as { attemptId: string }).attemptId;
    assert.match((started.data as { prompt: string }).prompt, /mcp__factory__\*/, 'the rendered prompt says the tools exist');
    // The stage retries (PLAN.md stays missing): each attempt fetched through its own bound server.
    assert.equal(events.filter((e) => e.type === 'context.fetched').length, events.filter((e) => e.type === 'attempt.started').length, run.stderr.slice(-2000));
    const fetched = events.filter((e) => e.type === 'context.fetched' && (e.data as { attemptId?: string }).attemptId === attemptId);
    assert.equal(fetched.length, 1, `context.fetched recorded (stderr: ${run.stderr.slice(-2000)})`);
    assert.equal(fetched[0]!.by?.name, 'claude-code');
    assert.equal((fetched[0]!.data as { attemptId: string }).attemptId, attemptId);
    assert.equal((fetched[0]!.data as { contextVersion: string }).contextVersion, (started.data as { contextVersion: string }).contextVersion);
    const { toolsCalledBy } = await import('../../../src/mcp/server');
    assert.deepEqual(toolsCalledBy(events, attemptId), ['get_context']);

    // The model got the pack through the server: the tool result holds the note.
    const requests = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tools: string[]; results: string[] });
    assert.ok(requests.some((r) => r.tools.includes('mcp__factory__get_context')), 'the server\'s tools were offered to the model');
    assert.ok(requests.some((r) => r.results.some((t) => t.includes('/api/session'))), 'the tool result carried the pack');

    const check = checkAttemptsContext(events, ['plan', 'implement', 'test', 'review', 'qa']).find((c) => c.attemptId === attemptId)!;
    assert.equal(check.recreated, false, check.reason);
  });
});
