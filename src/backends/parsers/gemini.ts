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
import type { AgentEvent } from '../../core/agentEvents';
import { parseJsonLines, excerpt, num, obj, str, toolStarted, unknownEvent, type LineParser, type ParserContext, sessionEventOf, TurnCounter } from './common';

const EDIT_TOOLS = new Set(['write_file', 'replace', 'edit']);

export function createGeminiParser(_context: ParserContext): LineParser {
  const calls = new Map<string, { name: string; input: unknown }>();
  const turns = new TurnCounter();
  let text = '';

  return {
    parse: parseJsonLines((value, line) => {
      switch (value.type) {
        case 'init':
          return sessionEventOf(value);
        case 'message': {
          if (value.role !== 'assistant' || !str(value.content)) return [];
          text += str(value.content);
          return [...turns.next(), { kind: 'text', text: str(value.content) ?? '' }];
        }
        case 'tool_use': {
          const id = str(value.tool_id) ?? '';
          const name = str(value.tool_name) ?? 'unknown';
          calls.set(id, { name, input: value.parameters });
          return [...turns.next(), toolStarted(id, name, value.parameters)];
        }
        case 'tool_result': {
          turns.close();
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
            events.push({ kind: 'usage', scope: 'total', inputTokens: num(stats.input_tokens) ?? 0, outputTokens: num(stats.output_tokens) ?? 0, cachedTokens: num(stats.cached) ?? 0 });
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
  };
}
