// `factory-cockpit status` shows what an attempt did with the factory's MCP server (#18):
// the built CLI runs a stage with the scripted Claude Code (the server is passed with
// --mcp-config; the agent reports it in its init event), the agent's tool calls are in the
// record as the server writes them, and status prints them, text and JSON.
import { strict as assert } from 'node:assert';
import { buildCli, cli, json, sandbox, type Sandbox } from '../cli/helpers';
import { StatusOutputSchema } from '../../../src/cli/schemas';
import { FileRecordStore } from '../../../src/store/recordStore';

describe('mcp: factory-cockpit status shows the MCP tools an attempt called and the server status', function () {
  this.timeout(120_000);
  let box: Sandbox;
  before(() => buildCli());
  afterEach(() => box?.cleanup());

  const runPlan = (steps: unknown[]) => {
    box = sandbox({ steps });
    assert.equal(cli(box, ['init']).code, 0);
    const changeId = json<{ change: { id: string } }>(cli(box, ['--json', 'change', 'start', 'Add login', '--branch', 'none'])).change.id;
    const run = cli(box, ['run', 'plan']);
    assert.ok([0, 1].includes(run.code), run.stderr);
    return { changeId, run };
  };
  const status = () => StatusOutputSchema.parse(json(cli(box, ['--json', 'status'])));
  const attemptOf = (out: ReturnType<typeof status>) => out.change!.stages.find((s) => s.id === 'plan')!.attempts.at(-1)! as { id: string; mcpStatus?: { status: string; detail?: string }; mcpTools?: string[] };

  it('lists the tools in the order first called, with the server connected', async () => {
    const { changeId } = runPlan([{ text: 'Planned.', write: { 'PLAN.md': '# Plan\n' } }]);
    const attempt = attemptOf(status());
    assert.deepEqual(attempt.mcpStatus, { status: 'connected' }, 'the agent reported the server it was given');
    assert.equal(attempt.mcpTools, undefined, 'no tool called yet');

    // What the server records when the agent calls its tools (mcp/server.ts), bound to the attempt.
    const records = new FileRecordStore(box.dir);
    await records.append(changeId, { type: 'context.fetched', by: { name: 'claude-code' }, data: { attemptId: attempt.id, stageId: 'plan', contextVersion: 'v1', what: 'pack', tool: 'get_context' } });
    await records.append(changeId, { type: 'attempt.toolCalled', by: { name: 'claude-code' }, data: { attemptId: attempt.id, stageId: 'plan', server: 'factory', tool: 'get_criteria\u202E', ok: true } });
    assert.deepEqual(attemptOf(status()).mcpTools, ['get_context', 'get_criteria\u202E']);
    const text = cli(box, ['status']).stdout;
    assert.match(text, /MCP tools called: get_context, get_criteria/);
    assert.ok(!text.includes('\u202E'), 'a control character from the record is not printed');
  });

  it('warns when the agent said the server did not start', () => {
    runPlan([{ text: 'Planned.', write: { 'PLAN.md': '# Plan\n' }, mcpStatus: 'failed' }]);
    assert.deepEqual(attemptOf(status()).mcpStatus, { status: 'failed', detail: 'status failed' });
    assert.match(cli(box, ['status']).stdout, /The factory's MCP server did not start \(status failed\)/);
  });
});
