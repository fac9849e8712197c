// Which MCP server a stage run offers its agent (#18): the factory's own, as
// `node dist/cli.js -C <root> mcp --change <id> --attempt <id> --agent <backend>`, so what
// the agent fetches and records through it is bound to its attempt. Runs execute in the
// CLI bundle (the CLI, and the editor's detached runner), so that bundle is the server's
// command; elsewhere (unit tests on the sources) no server is offered unless
// FACTORY_COCKPIT_CLI names the bundle.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CLI_PRESETS } from '../backends/presets';
import type { AgentBackend, McpServerSpec } from '../backends/types';

/** Backends that can pass an MCP server per run (presets.ts `passesMcpServer`, and ACP's `session/new`); the others say "no MCP". */
export const MCP_CAPABLE_BACKENDS: ReadonlySet<string> = new Set([...CLI_PRESETS.filter((p) => p.passesMcpServer).map((p) => p.id), 'acp']);

export const FACTORY_MCP_NAME = 'factory';

/** dist/cli.js of this installation, when this process runs it. */
export function locateCliBundle(env: Record<string, string | undefined> = process.env, argv: readonly string[] = process.argv): string | undefined {
  const named = env.FACTORY_COCKPIT_CLI;
  if (named && existsSync(named)) return path.resolve(named);
  const main = argv[1];
  if (main && path.basename(main) === 'cli.js' && existsSync(main) && existsSync(path.join(path.dirname(main), 'mcp.js'))) return path.resolve(main);
  return undefined;
}

/**
 * The server for this attempt, or undefined when the run will not pass one: the backend
 * cannot, or its `mcp` setting is off (`passesMcpServer`), or no CLI bundle is found. Only
 * then does the prompt mention the tools.
 */
export function factoryMcpServer(input: { root: string; changeId: string; attemptId: string; backend: Pick<AgentBackend, 'id' | 'passesMcpServer'>; cliPath?: string }): McpServerSpec | undefined {
  if (input.backend.passesMcpServer !== true) return undefined;
  const cli = input.cliPath ?? locateCliBundle();
  if (!cli) return undefined;
  return {
    name: FACTORY_MCP_NAME,
    command: process.execPath,
    args: [cli, '--root', input.root, 'mcp', '--change', input.changeId, '--attempt', input.attemptId, '--agent', input.backend.id],
  };
}

/** What the rendered prompt says about the tools, so the agent uses them instead of re-gathering context. */
export function mcpPromptNote(spec: McpServerSpec): string {
  return [
    `Tools: when your tools include the "${spec.name}" MCP server (mcp__${spec.name}__*), it is this change's record in Factory Cockpit.`,
    'Read the handed-off context with get_handoff and get_context instead of re-gathering it; check get_criteria and run_verification before you finish;',
    'record progress with record_progress and your handoff summary with record_handoff_summary.',
  ].join(' ');
}
