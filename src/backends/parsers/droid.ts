// Factory Droid `droid exec --output-format stream-json`.
//
// Format sources:
// - Captured from Factory Droid 0.225.2 (npm @factory/cli + @factory/cli-linux-x64) run
//   headless with a bring-your-own-key model pointed at
//   test/fixtures/agents/mock-model-server.mjs (Anthropic API):
//   test/fixtures/agents/droid/{success,error}.jsonl.
// - Docs: docs.factory.ai/cli/droid-exec/overview (output formats text | json |
//   stream-json, autonomy levels --auto low|medium|high, -s/--session-id to continue).
// Observed events: system/init {session_id, model, tools}, message {role, text},
// tool_call {id, toolId, toolName, parameters}, tool_result {id, toolId, isError, value},
// completion {finalText, numTurns, durationMs, usage {input_tokens, output_tokens,
// cache_read_input_tokens, cache_creation_input_tokens}}, error {source, message}.
// Its file tools are Create / Edit / ApplyPatch, its shell tool Execute. input_tokens
// exclude cache reads (Anthropic's convention), so they are added here.
// Refused tool call (Droid 0.225.2, --auto low, a high-risk Execute;
// test/fixtures/agents/droid/refused.jsonl): `tool_result {isError: true, error: {type:
// "tool_error", message: "Error: Exec ended early: insufficient permission to proceed.
// Re-run with --auto medium …"}}` (no `value`), then an assistant message and
// `error {source: "cli"}`: the run ends early, exit code 1. NB: at --auto low a `Create`
// OUTSIDE the cwd was allowed (the file was written): Droid does not confine edits to
// the workspace by itself. The model: `system/init.model` (e.g. "custom:<name>"); the
// stream has no CLI version. The final answer is `completion.finalText` (observed equal
// to the last assistant message, not the messages joined).
import type { AgentEvent } from '../../core/agentEvents';
import { parseJsonLines, excerpt, num, obj, str, textOf, toolStarted, unknownEvent, type LineParser, type ParserContext, sessionEventOf, TurnCounter } from './common';

const EDIT_TOOLS = new Set(['Create', 'Edit', 'MultiEdit', 'ApplyPatch']);

export function createDroidParser(_context: ParserContext): LineParser {
  const calls = new Map<string, { name: string; input: unknown }>();
  const turns = new TurnCounter();
  let lastError: string | undefined;

  return {
    parse: parseJsonLines((value, line) => {
      switch (value.type) {
        case 'system':
          return value.subtype === 'init' ? sessionEventOf(value) : [];
        case 'message':
          if (value.role !== 'assistant' || !str(value.text)) return [];
          return [...turns.next(), { kind: 'text', text: str(value.text) ?? '', ...(str(value.id) ? { messageId: str(value.id) } : {}) }];
        case 'tool_call': {
          const id = str(value.id) ?? '';
          const name = str(value.toolName) ?? str(value.toolId) ?? 'unknown';
          calls.set(id, { name, input: value.parameters });
          return [...turns.next(), toolStarted(id, name, value.parameters)];
        }
        case 'tool_result': {
          turns.close();
          const id = str(value.id) ?? '';
          const call = calls.get(id);
          calls.delete(id);
          const failed = value.isError === true;
          const output = value.value !== undefined ? textOf(value.value) : (str(obj(value.error)?.message) ?? textOf(value.error));
          const events: AgentEvent[] = [{ kind: 'toolFinished', id, ...(call ? { name: call.name } : {}), status: failed ? 'failed' : 'succeeded', output: excerpt(output) }];
          const input = obj(call?.input);
          if (call && !failed && EDIT_TOOLS.has(call.name)) {
            const path = str(input?.file_path) ?? str(input?.path);
            if (path) events.push({ kind: 'fileEdited', path, change: call.name === 'Create' ? 'add' : 'update', toolCallId: id });
          } else if (call?.name === 'Execute') {
            events.push({ kind: 'commandRun', command: str(input?.command) ?? '', exitCode: failed ? null : 0, outputExcerpt: excerpt(output), toolCallId: id });
          }
          return events;
        }
        case 'completion': {
          const usage = obj(value.usage);
          const events: AgentEvent[] = [];
          if (usage) {
            const cacheRead = num(usage.cache_read_input_tokens) ?? 0;
            events.push({
              kind: 'usage',
              scope: 'total',
              inputTokens: (num(usage.input_tokens) ?? 0) + cacheRead + (num(usage.cache_creation_input_tokens) ?? 0),
              outputTokens: num(usage.output_tokens) ?? 0,
              cachedTokens: cacheRead,
            });
          }
          const reportedTurns = num(value.numTurns);
          const duration = num(value.durationMs);
          events.push({ kind: 'result', success: true, text: str(value.finalText) ?? '', turns: reportedTurns ?? turns.count, ...(duration !== undefined ? { durationMs: duration } : {}) });
          return events;
        }
        case 'error': {
          const message = str(value.message) ?? 'error';
          // Droid reports the cause (source agent_loop) and then a generic "Exec failed" (source cli).
          const fatal = value.source === 'cli';
          const shown = fatal && lastError ? `${lastError}` : message;
          if (!fatal) lastError = message;
          return fatal ? [{ kind: 'error', message: shown, fatal: true }, { kind: 'result', success: false, text: shown, turns: turns.count }] : [{ kind: 'error', message, fatal: false }];
        }
        default:
          return [unknownEvent('droid', value.type, line)];
      }
    }),
    end: () => [],
  };
}
