// What every backend learns from its own event stream to record with the attempt (issue
// #23, "every run recorded exactly as it happened"): the agent's final answer (its last
// assistant message, not every text joined), the tool calls that failed or were refused,
// the model the agent says it ran and its version. One collector, fed the same typed
// events the backend streams, so every backend fills these fields the same way.
import type { AgentEvent, AttemptResult, FailedToolCall, McpServerReport } from '../core/agentEvents';
import { excerpt } from './parsers/common';

/** A final answer longer than this keeps its end (a plain-text agent's whole output is one message). */
export const MAX_FINAL_TEXT_CHARS = 64 * 1024;
const REASON_CHARS = 500;
/** Names that are an alias for "let the agent choose", not a model. */
const MODEL_ALIASES = new Set(['auto', 'default', '<synthetic>']);

/** Starts a final answer whose head was dropped (it kept its end, MAX_FINAL_TEXT_CHARS). */
export const CUT_HEAD_MARKER = '[…] ';

/** Events after which the next text starts a new assistant message. */
const MESSAGE_BREAKS = new Set<AgentEvent['kind']>(['toolStarted', 'toolFinished', 'fileEdited', 'commandRun', 'permission', 'turn']);

export class AttemptFacts {
  private message = '';
  private messageId: string | undefined;
  private messageCut = false;
  private broken = true;
  private readonly toolNames = new Map<string, string>();
  private readonly failed = new Map<string, FailedToolCall>();
  private anonymousFailures = 0;
  private sessionModel: string | undefined;
  private usageModel: string | undefined;
  private version: string | undefined;
  /** What the agent said about its MCP servers, by name ('' when it named none). */
  private readonly mcpServers = new Map<string, McpServerReport>();

  /** Feed every event the backend emits (parser output, ACP updates…), in order. */
  observe(event: AgentEvent): void {
    switch (event.kind) {
      case 'text':
        this.text(event.text, event.messageId);
        return;
      case 'toolStarted':
        this.toolNames.set(event.id, event.name);
        break;
      case 'toolFinished':
        if (event.status === 'failed') this.fail({ name: event.name ?? this.toolNames.get(event.id) ?? 'unknown', id: event.id, reason: event.output });
        else if (event.id) this.failed.delete(event.id);
        break;
      case 'permission':
        if (event.decision !== 'allowed') {
          const name = (event.toolCallId && this.toolNames.get(event.toolCallId)) || event.title;
          this.fail({ name, ...(event.toolCallId ? { id: event.toolCallId } : {}), reason: `permission ${event.decision}` });
        }
        break;
      case 'session':
        if (usableModel(event.model)) this.sessionModel = event.model;
        if (event.agentVersion) this.version = event.agentVersion;
        for (const server of event.mcpServers ?? []) this.mcpServers.set(server.name ?? '', server);
        return;
      case 'error':
        if (event.mcpServer) this.mcpServers.set(event.mcpServer.name ?? '', event.mcpServer);
        break;
      case 'usage':
        if (usableModel(event.model)) this.usageModel = event.model;
        return;
      default:
        break;
    }
    if (MESSAGE_BREAKS.has(event.kind)) this.broken = true;
  }

  /** The last assistant message, or undefined when the agent said nothing. */
  get lastMessage(): string | undefined {
    if (!this.message) return undefined;
    return this.messageCut ? `${CUT_HEAD_MARKER}${this.message}` : this.message;
  }

  get failedToolCalls(): FailedToolCall[] {
    return [...this.failed.values()];
  }

  /** What the agent reported about the MCP server `name` (a report naming no server counts for it), or undefined when it said nothing. */
  mcpStatusOf(name: string): AttemptResult['mcpStatus'] {
    const report = this.mcpServers.get(name) ?? this.mcpServers.get('');
    if (!report) return undefined;
    if (report.status === 'connected') return { status: 'connected' };
    return { status: 'failed', detail: report.detail ?? `status ${report.status}` };
  }

  /** The fields of `AttemptResult` this collector knows, ready to spread in; `mcpServer`: the name of the factory's server passed to the run. */
  resultFields(requestedModel: string | undefined, finalText?: string, mcpServer?: string): Pick<AttemptResult, 'text' | 'failedToolCalls' | 'requestedModel' | 'reportedModel' | 'agentVersion' | 'mcpStatus'> {
    const text = finalText || this.lastMessage;
    const failed = this.failedToolCalls;
    const reported = this.usageModel ?? this.sessionModel;
    const mcpStatus = mcpServer !== undefined ? this.mcpStatusOf(mcpServer) : undefined;
    return {
      ...(mcpStatus ? { mcpStatus } : {}),
      ...(text ? { text } : {}),
      ...(failed.length ? { failedToolCalls: failed } : {}),
      ...(requestedModel ? { requestedModel } : {}),
      ...(reported ? { reportedModel: reported } : {}),
      ...(this.version ? { agentVersion: this.version } : {}),
    };
  }

  private text(text: string, messageId: string | undefined): void {
    // A chunk without an id continues the current message; a different id starts another.
    const newMessage = this.broken || (messageId !== undefined && messageId !== this.messageId && this.message !== '');
    if (newMessage) {
      this.message = '';
      this.messageCut = false;
    }
    this.broken = false;
    if (messageId !== undefined) this.messageId = messageId;
    else if (newMessage) this.messageId = undefined;
    this.message += text;
    if (this.message.length > MAX_FINAL_TEXT_CHARS) {
      this.message = this.message.slice(-MAX_FINAL_TEXT_CHARS);
      this.messageCut = true;
    }
  }

  private fail(call: FailedToolCall): void {
    const reason = call.reason?.trim() ? excerpt(call.reason.trim(), REASON_CHARS) : undefined;
    const key = call.id || `#${++this.anonymousFailures}`;
    const known = this.failed.get(key);
    if (known) {
      // The first word on a call stands (the tool's own error); a later one only fills gaps.
      if (!known.reason && reason) known.reason = reason;
      return;
    }
    this.failed.set(key, { name: call.name, ...(call.id ? { id: call.id } : {}), ...(reason ? { reason } : {}) });
  }
}

function usableModel(model: string | undefined): model is string {
  return !!model && !MODEL_ALIASES.has(model);
}
