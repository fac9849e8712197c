// The entry of dist/mcp.js: `factory-cockpit mcp` builds the factory as every CLI
// command does (src/cli/commands.ts) and hands it here, so the SDK and its web stack
// are loaded by this command only.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Factory } from '../engine/factory';
import { createMcpServer, type McpBinding } from './server';

export { createMcpServer, toolsCalledBy } from './server';

/** Serves the factory over stdio until the client closes the connection (or ends the process). */
export async function serveStdio(factory: Factory, binding: McpBinding, version: string): Promise<void> {
  const server = createMcpServer(factory, binding, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  // Claude Code ends its servers with SIGINT: close cleanly.
  const stop = () => void server.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await closed;
  await server.close().catch(() => undefined);
}
