// Gemini CLI `gemini -p … --output-format stream-json`.
//
// Format sources:
// - Captured from Gemini CLI 0.61.0 (npm @google/gemini-cli) run headless against
//   test/fixtures/agents/mock-model-server.mjs (generateContent API):
//   test/fixtures/agents/gemini/{success,error}.jsonl.
// - Source: google-gemini/gemini-cli packages/core/src/output/types.ts (JsonStreamEventType:
//   init, message, tool_use, tool_result, error, result; StreamStats) and
//   packages/cli/src/nonInteractiveCli.ts; docs: docs/cli/headless.md ("stream-json").
// Observed: assistant text arrives as `message` with `delta: true`; `tool_result` has no
// tool name (matched by tool_id); `result.stats.input_tokens` includes `cached`;
// a failed API call ends with `result {status: "error", error: {type, message}}`.
// Refused tool call (Gemini CLI 0.61.0, --approval-mode yolo, write_file outside the
// workspace; test/fixtures/agents/gemini/refused.jsonl): `tool_result {status: "error",
// output, error: {type: "invalid_tool_params", message: "Path not in workspace: …"}}`,
// and the run ends with `result {status: "success"}`.
// The final answer is the last assistant message: the `message` deltas after the last
// tool call (earlier messages are not part of it). The model: `init.model` is what was
// asked for ("auto" when the CLI routes), `result.stats.models` names the models that
// answered, with their tokens (the busiest is reported). No CLI version in the stream.
// MCP servers (#18): the stream never names them; when one does not start, the run still
// succeeds and stderr says only "MCP issues detected. Run /mcp list for status." (0.61.0,
// a server whose command exits at once, verified against the mock model). The run passes
// only the factory's server (--allowed-mcp-server-names), so that line is about it.
import type { AgentEvent } from '../../core/agentEvents';
import { busiestModel, parseJsonLines, excerpt, num, obj, str, toolStarted, unknownEvent, type LineParser, type ParserContext, sessionEventOf, TurnCounter } from './common';

const EDIT_TOOLS = new Set(['write_file', 'replace', 'edit']);

export function createGeminiParser(_context: ParserContext): LineParser {
  const calls = new Map<string, { name: string; input: unknown }>();
  const turns = new TurnCounter();
  /** The current assistant message: a tool call ends it. */
  let text = '';
  let inMessage = false;

  return {
    parse: parseJsonLines((value, line) => {
      switch (value.type) {
        case 'init':
          return sessionEventOf(value);
        case 'message': {
          if (value.role !== 'assistant' || !str(value.content)) return [];
          if (!inMessage) text = '';
          inMessage = true;
          text += str(value.content);
          return [...turns.next(), { kind: 'text', text: str(value.content) ?? '' }];
        }
        case 'tool_use': {
          const id = str(value.tool_id) ?? '';
          const name = str(value.tool_name) ?? 'unknown';
          inMessage = false;
          calls.set(id, { name, input: value.parameters });
          return [...turns.next(), toolStarted(id, name, value.parameters)];
        }
        case 'tool_result': {
          turns.close();
          inMessage = false;
          const id = str(value.tool_id) ?? '';
          const call = calls.get(id);
          calls.delete(id);
          const failed = value.status !== 'success';
          const output = str(value.output) ?? str(obj(value.error)?.message) ?? '';
          const events: AgentEvent[] = [{ kind: 'toolFinished', id, ...(call ? { name: call.name } : {}), status: failed ? 'failed' : 'succeeded', output: excerpt(output) }];
          const input = obj(call?.input);
          if (call && !failed && EDIT_TOOLS.has(call.name)) {
            const path = str(input?.file_path) ?? str(input?.absolute_path);
            if (path) events.push({ kind: 'fileEdited', path, change: 'unknown', toolCallId: id });
          } else if (call?.name === 'run_shell_command') {
            events.push({ kind: 'commandRun', command: str(input?.command) ?? '', exitCode: failed ? null : 0, outputExcerpt: excerpt(output), toolCallId: id });
          }
          return events;
        }
        case 'error':
          return [{ kind: 'error', message: str(value.message) ?? 'error', fatal: false }];
        case 'result': {
          const stats = obj(value.stats);
          const success = value.status === 'success';
          const events: AgentEvent[] = [];
          if (stats) {
            const model = busiestModel(obj(stats.models), (m) => (num(m.input_tokens) ?? 0) + (num(m.output_tokens) ?? 0));
            events.push({ kind: 'usage', scope: 'total', inputTokens: num(stats.input_tokens) ?? 0, outputTokens: num(stats.output_tokens) ?? 0, cachedTokens: num(stats.cached) ?? 0, ...(model ? { model } : {}) });
          }
          const message = str(obj(value.error)?.message);
          if (!success) events.push({ kind: 'error', message: message ?? 'Gemini CLI reported an error', fatal: true });
          const duration = num(stats?.duration_ms);
          events.push({ kind: 'result', success, text: success ? text : (message ?? ''), turns: turns.count, ...(duration !== undefined ? { durationMs: duration } : {}) });
          return events;
        }
        default:
          return [unknownEvent('gemini', value.type, line)];
      }
    }),
    end: () => [],
    stderr: (line) =>
      GEMINI_MCP_ISSUES.test(line)
        ? [{ kind: 'error', fatal: false, mcpServer: { status: 'failed', detail: line.trim() }, message: `An MCP server did not start for Gemini CLI ("${line.trim()}"): the factory's tools are not available to this attempt.` }]
        : [],
  };
}

const GEMINI_MCP_ISSUES = /MCP issues detected/i;
