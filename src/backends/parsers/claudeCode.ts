// Claude Code `claude -p --output-format stream-json --verbose [--include-partial-messages]`.
//
// Format sources:
// - Captured from Claude Code 2.1.197 (npm @anthropic-ai/claude-code, native linux-x64
//   binary) run headless against test/fixtures/agents/mock-model-server.mjs:
//   test/fixtures/agents/claude-code/{success,success-partial,error}.jsonl.
// - Docs: docs.claude.com/en/docs/claude-code/headless ("stream-json": one JSON message
//   per line) and the Agent SDK message types (SDKSystemMessage `system/init`,
//   SDKAssistantMessage, SDKUserMessage with tool_result blocks, SDKPartialAssistantMessage
//   `stream_event`, SDKResultMessage with total_cost_usd, usage, num_turns, is_error,
//   session_id, subtype success | error_max_turns | error_during_execution).
// Observed: an assistant message with several content blocks is printed as several
// `assistant` lines with the same message id and the same usage (counted once here);
// the streamed `usage.output_tokens` is the value at message_start (too low): the
// `result` line carries the true totals and the cost. A failed API call shows as an
// `assistant` line with `error` and model "<synthetic>", then a `result` with is_error.
// Refused tool call (Claude Code 2.1.197, -p --permission-mode acceptEdits, a Write
// outside the cwd; test/fixtures/agents/claude-code/refused.jsonl): the tool_result has
// is_error ("Claude requested permissions to write to …, but you haven't granted it
// yet."), the run still ends with `result` success, and `result.permission_denials`
// lists {tool_name, tool_use_id, tool_input}: mapped to `permission` events (rejected).
// Stopped mid-run (Claude Code 2.1.332, test/fixtures/agents/fault-model-server.mjs FAULT=bigline
// with a Bash command that sleeps, the attempt timed out: claude-code/stalled.jsonl): no
// `result` line, and the `assistant` line's usage still has message_start's output_tokens (1);
// the true figure (567) is only in the streamed `message_delta`, counted here as a delta.
// A sub-agent (the Agent tool, test/fixtures/agents/claude-code/subagent.jsonl: Claude Code
// 2.1.332, fault-model-server.mjs FAULT=task) runs in the background: the run prints two
// `result` lines, the second's `usage` only the turn after the first, and neither's `usage`
// holds the sub-agent's calls (2468 input, 1134 output), while `modelUsage` counts all 8 model
// calls (9872 input, 4536 output) and `total_cost_usd` is priced from it: the totals are
// the larger of the two, so tokens and cost describe the same calls.
// A final answer over the runner's line limit (4 MB; claude-code/answer.jsonl, Claude Code
// 2.1.332, with the answer made 5 MB by fake-agent-lib's huge-result): the result line puts
// "type":"result" and the session after `result`, so it is read joined around its cut
// middle (../cutJson.ts).
// The final answer is `result.result` (the last assistant message, not all of them).
// The model: `system/init.model`, each assistant message's `model`, and
// `result.modelUsage` (per model tokens and cost); the version: `system/init.claude_code_version`.
import type { AgentEvent, McpServerReport, UsageEvent } from '../../core/agentEvents';
import { RecentSet, arr, busiestModel, parseJsonLines, excerpt, num, obj, str, textOf, toolStarted, unknownEvent, type Json, type LineParser, type ParserContext, sessionEventOf } from './common';

const EDIT_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

export function createClaudeCodeParser(_context: ParserContext): LineParser {
  const countedMessages = new RecentSet();
  const streamedText = new RecentSet();
  const calls = new Map<string, { name: string; input: unknown }>();
  let turns = 0;
  let currentStreamMessage: string | undefined;
  /** Output tokens counted so far for the message being streamed (its `assistant` lines carry message_start's figure). */
  let streamedOutput: { id: string; counted: number | undefined; final: number | undefined } | undefined;

  /** Built field by field, not spread: one comes with every assistant line (issue #22). */
  function usageEvent(scope: UsageEvent['scope'], usage: Json | undefined, model: string | undefined, cost?: number): UsageEvent {
    const cacheRead = num(usage?.cache_read_input_tokens) ?? 0;
    const cacheCreation = num(usage?.cache_creation_input_tokens) ?? 0;
    const event: UsageEvent = { kind: 'usage', scope, inputTokens: (num(usage?.input_tokens) ?? 0) + cacheRead + cacheCreation, outputTokens: num(usage?.output_tokens) ?? 0, cachedTokens: cacheRead };
    if (cost !== undefined) {
      event.costUsd = cost;
      event.costSource = 'agent';
    }
    if (model) event.model = model;
    return event;
  }

  function assistant(message: Json, line: Json): AgentEvent[] {
    const events: AgentEvent[] = [];
    const id = str(message.id) ?? '';
    const model = str(message.model);
    if (id && !countedMessages.has(id)) {
      countedMessages.add(id);
      if (model !== '<synthetic>') {
        events.push({ kind: 'turn', index: ++turns });
        const usage = usageEvent('delta', obj(message.usage), model);
        // A message_delta streamed before this line already gave the message's true output.
        if (streamedOutput?.id === id) {
          usage.outputTokens = Math.max(usage.outputTokens, streamedOutput.final ?? 0);
          streamedOutput.counted = usage.outputTokens;
        }
        events.push(usage);
      }
    }
    for (const raw of arr(message.content)) {
      const block = obj(raw);
      if (!block) continue;
      switch (block.type) {
        case 'text':
          if (!streamedText.has(id) && str(block.text)) events.push({ kind: 'text', text: str(block.text) ?? '', messageId: id });
          break;
        case 'thinking':
          if (!streamedText.has(id) && str(block.thinking)) events.push({ kind: 'reasoning', text: str(block.thinking) ?? '', messageId: id });
          break;
        case 'tool_use': {
          const toolId = str(block.id) ?? '';
          const name = str(block.name) ?? 'unknown';
          calls.set(toolId, { name, input: block.input });
          events.push(toolStarted(toolId, name, block.input));
          break;
        }
        default:
          break;
      }
    }
    const error = str(line.error);
    if (error) events.push({ kind: 'error', message: textOf(message.content) || `API error (${error})`, fatal: false });
    return events;
  }

  function user(message: Json, line: Json): AgentEvent[] {
    const events: AgentEvent[] = [];
    for (const raw of arr(message.content)) {
      const block = obj(raw);
      if (block?.type !== 'tool_result') continue;
      const id = str(block.tool_use_id) ?? '';
      const call = calls.get(id);
      calls.delete(id);
      const failed = block.is_error === true;
      const output = textOf(block.content);
      const status = failed ? 'failed' : 'succeeded';
      // Two literals rather than a spread: one comes with every tool result (issue #22).
      events.push(call ? { kind: 'toolFinished', id, name: call.name, status, output: excerpt(output) } : { kind: 'toolFinished', id, status, output: excerpt(output) });
      if (!call || failed) continue;
      const input = obj(call.input);
      if (EDIT_TOOLS.has(call.name)) {
        const result = obj(line.tool_use_result);
        const path = str(input?.file_path) ?? str(input?.notebook_path) ?? str(result?.filePath);
        const change = result?.type === 'create' ? 'add' : result?.type === 'update' || call.name !== 'Write' ? 'update' : 'unknown';
        if (path) events.push({ kind: 'fileEdited', path, change, toolCallId: id });
      } else if (call.name === 'Bash') {
        const result = obj(line.tool_use_result);
        events.push({ kind: 'commandRun', command: str(input?.command) ?? '', exitCode: failed ? null : 0, outputExcerpt: excerpt(str(result?.stdout) ?? output), toolCallId: id });
      }
    }
    return events;
  }

  function streamEvent(event: Json): AgentEvent[] {
    if (event.type === 'message_start') {
      currentStreamMessage = str(obj(event.message)?.id);
      if (currentStreamMessage) streamedOutput = { id: currentStreamMessage, counted: undefined, final: undefined };
      return [];
    }
    if (event.type === 'message_delta') return outputOfMessage(num(obj(event.usage)?.output_tokens));
    if (event.type !== 'content_block_delta') return [];
    const delta = obj(event.delta);
    const messageId = currentStreamMessage ?? '';
    if (delta?.type === 'text_delta' && str(delta.text)) {
      streamedText.add(messageId);
      return [{ kind: 'text', text: str(delta.text) ?? '', messageId }];
    }
    if (delta?.type === 'thinking_delta' && str(delta.thinking)) {
      streamedText.add(messageId);
      return [{ kind: 'reasoning', text: str(delta.thinking) ?? '', messageId }];
    }
    return [];
  }

  /**
   * The message's true output tokens, from its streamed message_delta (Claude Code 2.1.332
   * prints each `assistant` line with message_start's output_tokens, 1 with the mock): the
   * part not counted yet, as a delta. Without it a run that ends before its `result` line
   * (stopped, timed out, over budget, crashed) recorded 1 output token a message, and the
   * token budget did not see the output (test/fixtures/agents/claude-code/stalled.jsonl).
   */
  function outputOfMessage(outputTokens: number | undefined): AgentEvent[] {
    if (outputTokens === undefined || !streamedOutput || streamedOutput.id !== currentStreamMessage) return [];
    streamedOutput.final = Math.max(streamedOutput.final ?? 0, outputTokens);
    if (streamedOutput.counted === undefined || outputTokens <= streamedOutput.counted) return [];
    const more = outputTokens - streamedOutput.counted;
    streamedOutput.counted = outputTokens;
    return [{ kind: 'usage', scope: 'delta', inputTokens: 0, outputTokens: more, cachedTokens: 0 }];
  }

  function result(line: Json): AgentEvent[] {
    const isError = line.is_error === true || (str(line.subtype) ?? 'success') !== 'success';
    const events: AgentEvent[] = [];
    const cost = num(line.total_cost_usd);
    const usage = obj(line.usage);
    const modelUsage = obj(line.modelUsage);
    const model = busiestModel(modelUsage, (m) => (num(m.inputTokens) ?? 0) + (num(m.outputTokens) ?? 0) + (num(m.cacheReadInputTokens) ?? 0));
    if (usage || cost !== undefined) {
      const total = usageEvent('total', usage, model, cost);
      // `usage` is the main conversation's since the last result; `modelUsage` counts every
      // model call of the session, sub-agents too, and is what `total_cost_usd` is priced from.
      const all = modelUsageTotals(modelUsage);
      total.inputTokens = Math.max(total.inputTokens, all.inputTokens);
      total.outputTokens = Math.max(total.outputTokens, all.outputTokens);
      total.cachedTokens = Math.max(total.cachedTokens, all.cachedTokens);
      events.push(total);
    }
    for (const raw of arr(line.permission_denials)) {
      const denial = obj(raw);
      if (!denial) continue;
      const id = str(denial.tool_use_id);
      events.push({ kind: 'permission', ...(id ? { toolCallId: id } : {}), title: str(denial.tool_name) ?? 'unknown', decision: 'rejected' });
    }
    const text = str(line.result);
    if (isError) events.push({ kind: 'error', message: text || `Claude Code stopped: ${str(line.subtype) ?? 'error'}`, fatal: true });
    const turnsReported = num(line.num_turns);
    const duration = num(line.duration_ms);
    events.push({ kind: 'result', success: !isError, ...(text !== undefined ? { text } : {}), ...(turnsReported !== undefined ? { turns: turnsReported } : {}), ...(duration !== undefined ? { durationMs: duration } : {}) });
    return events;
  }

  return {
    parse: parseJsonLines((value, line) => {
      switch (value.type) {
        case 'system':
          return value.subtype === 'init' ? [...withMcpServers(sessionEventOf(value, str(value.claude_code_version)), value), ...mcpServerWarnings(value)] : [];
        case 'assistant': {
          const message = obj(value.message);
          return message ? assistant(message, value) : [];
        }
        case 'user': {
          const message = obj(value.message);
          return message ? user(message, value) : [];
        }
        case 'stream_event': {
          const event = obj(value.event);
          return event ? streamEvent(event) : [];
        }
        case 'result':
          return result(value);
        default:
          return [unknownEvent('claude-code', value.type, line)];
      }
    }),
    end: () => [],
  };
}

/** The tokens of `result.modelUsage` summed over its models (input with the cache reads and writes, as `usage` is read). */
function modelUsageTotals(modelUsage: Json | undefined): { inputTokens: number; outputTokens: number; cachedTokens: number } {
  const totals = { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };
  for (const raw of Object.values(modelUsage ?? {})) {
    const entry = obj(raw);
    if (!entry) continue;
    const cacheRead = num(entry.cacheReadInputTokens) ?? 0;
    totals.inputTokens += (num(entry.inputTokens) ?? 0) + cacheRead + (num(entry.cacheCreationInputTokens) ?? 0);
    totals.outputTokens += num(entry.outputTokens) ?? 0;
    totals.cachedTokens += cacheRead;
  }
  return totals;
}

/**
 * Claude Code does not fail when an MCP server does not start (exit 0, `result` success):
 * only `system/init`'s `mcp_servers[].status` says `failed` or `pending` (AGENT-CLIS.md,
 * verified with 2.1.332). Each server that is not `connected` becomes a warning, which the
 * surfaces show and the transcript keeps with the init line (#18).
 */
export function mcpServerWarnings(init: Record<string, unknown>): AgentEvent[] {
  return mcpServersOf(init)
    .filter((server) => server.status !== 'connected')
    .map((server) => ({ kind: 'error', fatal: false, mcpServer: server, message: `The MCP server "${server.name ?? '?'}" did not start for Claude Code (status ${server.status}): its tools are not available to this attempt.` }));
}

/** `system/init`'s `mcp_servers` as the session event's `mcpServers` (the attempt records our server's status). */
function mcpServersOf(init: Record<string, unknown>): McpServerReport[] {
  const servers = Array.isArray(init.mcp_servers) ? (init.mcp_servers as unknown[]) : [];
  return servers.map((server) => {
    const s = server && typeof server === 'object' ? (server as { name?: unknown; status?: unknown }) : {};
    return { ...(typeof s.name === 'string' ? { name: s.name } : {}), status: typeof s.status === 'string' ? s.status : 'unknown' };
  });
}

function withMcpServers(events: AgentEvent[], init: Record<string, unknown>): AgentEvent[] {
  const mcpServers = mcpServersOf(init);
  return mcpServers.length ? events.map((e) => (e.kind === 'session' ? { ...e, mcpServers } : e)) : events;
}
