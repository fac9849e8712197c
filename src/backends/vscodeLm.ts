// The VS Code language model API (`vscode.lm`) as a backend: pick a model by vendor /
// family, send the attempt's prompt exactly as given (the stage's template already holds
// the context pack), stream the text. The final answer is the one response (a single
// message); the model reported is the id of the model the editor picked. It cannot edit files
// or run tools, and says so in its capabilities. No runtime 'vscode' import here: the
// composition root passes the few lm functions in as a port (see createVscodeLmPort).
import type * as vscode from 'vscode';
import type { AttemptResult, BackendCapabilities } from '../core/agentEvents';
import { runOnChannel, type EventChannel } from './eventChannel';
import { Redactor, secretsFromEnv } from './redact';
import type { AgentBackend, AgentRun, AttemptRequest } from './types';

export interface LmModelSelector {
  vendor?: string;
  family?: string;
  id?: string;
}
export interface LmCancellation {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}
export interface LmChatModel {
  readonly id: string;
  readonly vendor: string;
  readonly family: string;
  readonly name: string;
  /** Sends one user message; resolves to a stream of text fragments. */
  sendUserPrompt(prompt: string, token: LmCancellation): Promise<{ text: AsyncIterable<string> }>;
  countTokens?(text: string, token: LmCancellation): Promise<number>;
}
/** The part of `vscode.lm` this backend needs. */
export interface LanguageModelPort {
  selectChatModels(selector: LmModelSelector): Promise<readonly LmChatModel[]>;
}

/** Builds the port from the real API; called in the composition root with the `vscode` module. */
export function createVscodeLmPort(api: Pick<typeof vscode, 'lm' | 'LanguageModelChatMessage' | 'CancellationTokenSource'>): LanguageModelPort {
  return {
    async selectChatModels(selector) {
      const models = await api.lm.selectChatModels(selector);
      return models.map(
        (model): LmChatModel => ({
          id: model.id,
          vendor: model.vendor,
          family: model.family,
          name: model.name,
          async sendUserPrompt(prompt, token) {
            const source = new api.CancellationTokenSource();
            const subscription = token.onCancellationRequested(() => source.cancel());
            if (token.isCancellationRequested) source.cancel();
            const response = await model.sendRequest([api.LanguageModelChatMessage.User(prompt)], {}, source.token);
            return {
              text: (async function* () {
                try {
                  yield* response.text;
                } finally {
                  subscription.dispose();
                  source.dispose();
                }
              })(),
            };
          },
          countTokens: async (text, token) => {
            const source = new api.CancellationTokenSource();
            const subscription = token.onCancellationRequested(() => source.cancel());
            try {
              return await model.countTokens(text, source.token);
            } finally {
              subscription.dispose();
              source.dispose();
            }
          },
        }),
      );
    },
  };
}

export interface VscodeLmConfig {
  vendor?: string;
  family?: string;
  timeoutMs?: number;
}

export class VscodeLmBackend implements AgentBackend {
  readonly id = 'vscode-lm';
  readonly displayName = 'VS Code language model';
  readonly capabilities: BackendCapabilities = {
    streamsText: true,
    reasoning: false,
    toolCalls: false,
    fileEdits: false,
    commands: false,
    tokenUsage: true,
    cost: 'none',
    turns: false,
    sessionResume: false,
    canEditFiles: false,
    canRunTools: false,
  };

  constructor(
    private readonly port: LanguageModelPort | undefined,
    private readonly config: VscodeLmConfig = {},
  ) {}

  start(attempt: AttemptRequest): AgentRun {
    return runOnChannel((channel) => this.run(attempt, channel));
  }

  private async run(attempt: AttemptRequest, channel: EventChannel): Promise<AttemptResult> {
    const started = Date.now();
    const redactor = new Redactor([...secretsFromEnv(attempt.env), ...(attempt.secrets ?? [])]);
    const failed = (reason: string): AttemptResult => {
      channel.push({ kind: 'error', message: reason, fatal: true });
      return { outcome: 'failed', reason, usage: {}, durationMs: Date.now() - started };
    };
    if (!this.port) return failed('The VS Code language model API is not available here (it needs the editor; the CLI cannot use it).');
    const family = attempt.model ?? this.config.family;
    const selector: LmModelSelector = { ...(this.config.vendor ? { vendor: this.config.vendor } : {}), ...(family ? { family } : {}) };
    const models = await this.port.selectChatModels(selector);
    const model = models[0];
    if (!model) return failed(`No VS Code language model matches ${JSON.stringify(selector)}: install a model provider (e.g. GitHub Copilot Chat) or change factory.backends.vscode-lm.vendor / .family.`);

    let cancelled: { outcome: 'cancelled' | 'timedOut'; reason: string } | undefined;
    const listeners = new Set<() => void>();
    const token: LmCancellation = {
      get isCancellationRequested() {
        return cancelled !== undefined;
      },
      onCancellationRequested(listener) {
        listeners.add(listener);
        return { dispose: () => listeners.delete(listener) };
      },
    };
    const cancel = (why: NonNullable<typeof cancelled>) => {
      if (cancelled) return;
      cancelled = why;
      for (const listener of listeners) listener();
    };
    const onAbort = () => cancel({ outcome: 'cancelled', reason: 'cancelled by the user' });
    if (attempt.signal?.aborted) onAbort();
    attempt.signal?.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = this.config.timeoutMs ?? attempt.budget?.wallTimeMs;
    const timer = timeoutMs ? setTimeout(() => cancel({ outcome: 'timedOut', reason: `timed out after ${timeoutMs}ms` }), timeoutMs) : undefined;

    const prompt = attempt.prompt;
    const modelFields = { ...(family ? { requestedModel: family } : {}), reportedModel: model.id };
    channel.push({ kind: 'session', sessionId: `${model.vendor}/${model.id}`, model: model.family });
    attempt.sink?.write({ stream: 'meta', line: `[factory: vscode.lm ${model.vendor}/${model.family} (${model.name})]` });
    let text = '';
    try {
      const response = await model.sendUserPrompt(prompt, token);
      const redacting = redactor.stream();
      for await (const fragment of response.text) {
        if (cancelled) break;
        const safe = redacting.push(fragment);
        if (safe) {
          text += safe;
          channel.push({ kind: 'text', text: safe });
          attempt.sink?.write({ stream: 'stdout', line: safe });
        }
      }
      const rest = redacting.end();
      if (rest && !cancelled) {
        text += rest;
        channel.push({ kind: 'text', text: rest });
        attempt.sink?.write({ stream: 'stdout', line: rest });
      }
    } catch (error) {
      if (!cancelled) return failed(`${model.vendor}/${model.family}: ${redactor.redact((error as Error).message)}`);
    } finally {
      if (timer) clearTimeout(timer);
      attempt.signal?.removeEventListener('abort', onAbort);
    }
    if (cancelled) return { outcome: cancelled.outcome, reason: cancelled.reason, text, ...modelFields, usage: {}, durationMs: Date.now() - started };

    const usage: AttemptResult['usage'] = {};
    if (model.countTokens) {
      try {
        usage.inputTokens = await model.countTokens(prompt, token);
        usage.outputTokens = await model.countTokens(text, token);
        channel.push({ kind: 'usage', scope: 'total', inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedTokens: 0, model: model.family });
      } catch {
        // Token counts are a nicety; the answer stands without them.
      }
    }
    channel.push({ kind: 'result', success: true, text });
    return { outcome: 'succeeded', text, ...modelFields, usage, durationMs: Date.now() - started };
  }
}
