// A stage done by a person: the attempt opens and waits; the person closes it later
// with a note (the engine computes the diff, not this backend).
import type { AttemptResult, BackendCapabilities } from '../core/agentEvents';
import { EventChannel } from './eventChannel';
import type { AgentBackend, AgentRun, AttemptRequest } from './types';

export interface HumanClose {
  /** What the person says they did. */
  note: string;
  /** Default `succeeded`; a person can also give up (`failed`). */
  outcome?: 'succeeded' | 'failed';
}

export interface HumanRun extends AgentRun {
  close(close: HumanClose): void;
}

export interface HumanBackendDeps {
  now?: () => number;
}

export class HumanBackend implements AgentBackend {
  readonly id = 'human';
  readonly displayName = 'Person';
  readonly capabilities: BackendCapabilities = {
    streamsText: false,
    reasoning: false,
    toolCalls: false,
    fileEdits: false,
    commands: false,
    tokenUsage: false,
    cost: 'none',
    turns: false,
    sessionResume: false,
    canEditFiles: true,
    canRunTools: false,
  };

  constructor(private readonly deps: HumanBackendDeps = {}) {}

  start(attempt: AttemptRequest): HumanRun {
    const now = this.deps.now ?? Date.now;
    const started = now();
    const channel = new EventChannel();
    let settle: (result: AttemptResult) => void = () => undefined;
    let settled = false;
    const result = new Promise<AttemptResult>((resolve) => (settle = resolve)).finally(() => channel.close());
    const finish = (value: AttemptResult) => {
      if (settled) return;
      settled = true;
      attempt.signal?.removeEventListener('abort', onAbort);
      settle(value);
    };
    const onAbort = () => finish({ outcome: 'cancelled', reason: 'cancelled before the person closed the stage', usage: {}, durationMs: now() - started });
    channel.push({ kind: 'awaitingHuman', instructions: attempt.prompt });
    attempt.sink?.write({ stream: 'meta', line: '[factory: waiting for a person to do this stage]' });
    if (attempt.signal?.aborted) onAbort();
    else attempt.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      events: channel,
      result,
      [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator](),
      close: ({ note, outcome = 'succeeded' }) => {
        if (settled) return;
        channel.push({ kind: 'text', text: note });
        channel.push({ kind: 'result', success: outcome === 'succeeded', text: note });
        attempt.sink?.write({ stream: 'meta', line: `[factory: closed by the person: ${outcome}]` });
        finish({ outcome, note, text: note, usage: {}, durationMs: now() - started });
      },
    };
  }
}
