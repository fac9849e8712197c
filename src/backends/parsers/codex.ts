// Codex `codex exec --json` (JSONL thread events).
//
// Format sources:
// - Captured from Codex CLI 0.169.0 (npm @openai/codex) run headless against
//   test/fixtures/agents/mock-model-server.mjs (Responses API):
//   test/fixtures/agents/codex/{success,error}.jsonl.
// - Source: openai/codex codex-rs/exec/src/exec_events.rs (ThreadEvent: thread.started,
//   turn.started, turn.completed {usage: input_tokens, cached_input_tokens, output_tokens},
//   turn.failed {error.message}, item.started/updated/completed, error {message};
//   ThreadItemDetails: agent_message, reasoning, command_execution {command,
//   aggregated_output, exit_code, status}, file_change {changes[{path, kind}], status},
//   mcp_tool_call {server, tool, arguments, result, error, status}, web_search {query},
//   todo_list {items[{text, completed}]}, error {message}) and the Codex docs
//   (developers.openai.com/codex, "non-interactive mode", --json).
// Observed: input_tokens include the cached ones; 0.169 also reports
// cache_write_input_tokens and reasoning_output_tokens; warnings arrive as `error` items.
// Refused tool calls (Codex 0.171.0, --sandbox workspace-write, approval never;
// test/fixtures/agents/codex/refused*.jsonl): a failed shell command is a
// `command_execution` with status "failed" and its exit code; but a patch outside the
// workspace leaves NO item in the JSON stream at all, only a stderr log line
// "ERROR codex_core::tools::router: error=patch rejected: writing outside of the
// project; rejected by user approval settings" (refused.stderr.txt), read by `stderr`
// below (so is a sandboxed `printf … > outside` through exec_command: no item, and the
// model is told "Read-only file system"). The stream never names the model or the
// CLI version. The final answer is the last `agent_message` of the turn.
import type { AgentEvent } from '../../core/agentEvents';
import { splitShellWords } from '../../core/agentEvents';
import { RecentSet, arr, parseJsonLines, excerpt, num, obj, str, textOf, unknownEvent, type Json, type LineParser, type ParserContext } from './common';

/** The tool router's log line for a call that failed or was refused (it reaches no JSON item). */
const ROUTER_ERROR = /\bERROR codex_core::tools::router: error=(.+)$/;

export function createCodexParser(_context: ParserContext): LineParser {
  let turns = 0;
  let stderrFailures = 0;
  let lastMessage: string | undefined;
  const started = new RecentSet();

  function item(phase: 'started' | 'updated' | 'completed', it: Json, line: string): AgentEvent[] {
    const id = str(it.id) ?? '';
    const type = str(it.type);
    const status = str(it.status);
    const events: AgentEvent[] = [];
    const startOnce = (event: AgentEvent) => {
      if (started.has(id)) return;
      started.add(id);
      events.push(event);
    };
    switch (type) {
      case 'agent_message':
        if (phase === 'completed' && str(it.text)) {
          lastMessage = str(it.text);
          events.push({ kind: 'text', text: lastMessage ?? '', messageId: id });
        }
        return events;
      case 'reasoning':
        if (phase === 'completed' && str(it.text)) events.push({ kind: 'reasoning', text: str(it.text) ?? '', messageId: id });
        return events;
      case 'command_execution': {
        const command = str(it.command) ?? '';
        startOnce({ kind: 'toolStarted', id, name: 'shell', input: { command }, toolKind: 'execute' });
        if (phase === 'completed') {
          const exitCode = num(it.exit_code) ?? null;
          const output = str(it.aggregated_output) ?? '';
          const failed = status === 'failed' || status === 'declined' || (exitCode !== null && exitCode !== 0);
          const said = failed && !output.trim() ? `${status ?? 'failed'}${exitCode !== null ? ` (exit code ${exitCode})` : ''}` : output;
          events.push({ kind: 'toolFinished', id, name: 'shell', status: failed ? 'failed' : 'succeeded', output: excerpt(said) });
          events.push({ kind: 'commandRun', command, argv: splitShellWords(command), exitCode, outputExcerpt: excerpt(output), toolCallId: id });
        }
        return events;
      }
      case 'file_change': {
        const changes = arr(it.changes).map(obj).filter((c): c is Json => c !== undefined);
        const paths = changes.map((c) => str(c.path) ?? '').filter(Boolean);
        startOnce({ kind: 'toolStarted', id, name: 'apply_patch', input: { changes }, toolKind: 'edit', paths });
        if (phase === 'completed') {
          const failed = status === 'failed';
          events.push({ kind: 'toolFinished', id, name: 'apply_patch', status: failed ? 'failed' : 'succeeded', ...(failed ? { output: 'the patch was not applied' } : {}) });
          if (!failed) {
            for (const change of changes) {
              const kind = str(change.kind);
              events.push({ kind: 'fileEdited', path: str(change.path) ?? '', change: kind === 'add' || kind === 'delete' || kind === 'update' ? kind : 'unknown', toolCallId: id });
            }
          }
        }
        return events;
      }
      case 'mcp_tool_call': {
        const name = `${str(it.server) ?? 'mcp'}.${str(it.tool) ?? 'tool'}`;
        startOnce({ kind: 'toolStarted', id, name, input: it.arguments, toolKind: 'other' });
        if (phase === 'completed') {
          const error = obj(it.error);
          const result = obj(it.result);
          events.push({ kind: 'toolFinished', id, name, status: status === 'failed' || error ? 'failed' : 'succeeded', output: excerpt(error ? (str(error.message) ?? '') : textOf(result?.content ?? result)) });
        }
        return events;
      }
      case 'web_search':
        startOnce({ kind: 'toolStarted', id, name: 'web_search', input: { query: str(it.query) }, toolKind: 'fetch' });
        if (phase === 'completed') events.push({ kind: 'toolFinished', id, name: 'web_search', status: 'succeeded' });
        return events;
      case 'todo_list':
        events.push({
          kind: 'plan',
          entries: arr(it.items).map(obj).filter((e): e is Json => e !== undefined).map((e) => ({ text: str(e.text) ?? '', status: e.completed === true ? 'completed' as const : 'pending' as const })),
        });
        return events;
      case 'error':
        if (phase === 'completed') events.push({ kind: 'error', message: str(it.message) ?? 'error', fatal: false });
        return events;
      default:
        return [unknownEvent('codex', `item:${type ?? '?'}`, line)];
    }
  }

  return {
    parse: parseJsonLines((value, line) => {
      switch (value.type) {
        case 'thread.started':
          return str(value.thread_id) ? [{ kind: 'session', sessionId: str(value.thread_id) ?? '' }] : [];
        case 'turn.started':
          return [{ kind: 'turn', index: ++turns }];
        case 'item.started':
        case 'item.updated':
        case 'item.completed': {
          const it = obj(value.item);
          return it ? item(value.type.slice(5) as 'started' | 'updated' | 'completed', it, line) : [];
        }
        case 'turn.completed': {
          const usage = obj(value.usage);
          const events: AgentEvent[] = [];
          if (usage) {
            events.push({ kind: 'usage', scope: 'delta', inputTokens: num(usage.input_tokens) ?? 0, outputTokens: num(usage.output_tokens) ?? 0, cachedTokens: num(usage.cached_input_tokens) ?? 0 });
          }
          events.push({ kind: 'result', success: true, ...(lastMessage !== undefined ? { text: lastMessage } : {}), turns });
          return events;
        }
        case 'turn.failed': {
          const message = str(obj(value.error)?.message) ?? 'the turn failed';
          return [
            { kind: 'error', message, fatal: true },
            { kind: 'result', success: false, text: message, turns },
          ];
        }
        case 'error':
          return [{ kind: 'error', message: str(value.message) ?? 'error', fatal: false }];
        default:
          return [unknownEvent('codex', value.type, line)];
      }
    }),
    end: () => [],
    stderr: (line) => {
      const match = ROUTER_ERROR.exec(line);
      if (!match?.[1]) return [];
      const message = match[1].trim();
      const name = /^patch\b/i.test(message) ? 'apply_patch' : 'tool';
      return [{ kind: 'toolFinished', id: `codex-stderr-${++stderrFailures}`, name, status: 'failed', output: excerpt(message) }];
    },
  };
}
