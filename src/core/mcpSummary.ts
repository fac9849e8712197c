// What an attempt did with the factory's MCP server (#18), in the words every surface
// shows (the Stages tree, the transcript header, `factory-cockpit status`): the tools its
// agent called, and whether the server started as far as the agent said. Tool names come
// from the record (anyone can write it): surfaces pass these lines through safeText.
import { isEvent, type FactoryEvent } from './events';
import type { AttemptState } from './fold';

/** The factory MCP tool an event says an attempt's agent called (the same events as mcp/server.ts toolsCalledBy). */
export function mcpToolCall(event: FactoryEvent): { attemptId: string; tool: string } | undefined {
  if (!isEvent(event, 'attempt.toolCalled') && !isEvent(event, 'context.fetched') && !isEvent(event, 'attempt.noted')) return undefined;
  const { attemptId, tool } = event.data;
  return attemptId && tool ? { attemptId, tool } : undefined;
}

/** `attempt.finished`'s `mcpStatus` as the views read it: a status a newer version writes reads as unknown. */
export function mcpStatusOf(recorded: { status: string; detail?: string } | undefined): AttemptState['mcpStatus'] {
  if (!recorded) return undefined;
  const status = recorded.status === 'connected' || recorded.status === 'failed' ? recorded.status : 'unknown';
  return { status, ...(recorded.detail ? { detail: recorded.detail } : {}) };
}

export interface McpSummary {
  /** "MCP tools called: get_context, record_progress"; absent when it called none. */
  tools?: string;
  /** The server's status in a sentence; absent when the run was given no server. */
  server?: string;
  /** True when the agent said the server did not start (surfaces warn). */
  failed: boolean;
}

export function mcpSummary(attempt: Pick<AttemptState, 'mcpTools' | 'mcpStatus'>): McpSummary {
  const tools = attempt.mcpTools?.length ? `MCP tools called: ${attempt.mcpTools.join(', ')}` : undefined;
  const status = attempt.mcpStatus;
  const server = !status
    ? undefined
    : status.status === 'failed'
      ? `The factory's MCP server did not start${status.detail ? ` (${status.detail})` : ''}: the agent could not use its tools.`
      : status.status === 'connected'
        ? "The factory's MCP server started for the agent."
        : "The factory's MCP server was passed to the agent, which does not report whether it started.";
  return { ...(tools ? { tools } : {}), ...(server ? { server } : {}), failed: status?.status === 'failed' };
}
