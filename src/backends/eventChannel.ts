// An async queue from a push source (process output) to a `for await` consumer.
// With a consumer attached, the source is paused while more than `highWater` events
// wait, so a slow consumer bounds memory instead of letting it grow with the output.
import type { AgentEvent, AttemptResult } from '../core/agentEvents';
import type { AgentRun } from './types';

export class EventChannel implements AsyncIterable<AgentEvent> {
  private queue: AgentEvent[] = [];
  private head = 0;
  private waiter: ((value: IteratorResult<AgentEvent>) => void) | undefined;
  private closed = false;
  private consumed = false;
  private paused = false;

  constructor(
    private readonly flow: { pause(): void; resume(): void } = { pause: () => undefined, resume: () => undefined },
    private readonly highWater = 2000,
  ) {}

  push(event: AgentEvent): void {
    if (this.closed) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.consumed && !this.paused && this.queue.length - this.head > this.highWater) {
      this.paused = true;
      this.flow.pause();
    }
  }

  close(): void {
    this.closed = true;
    if (this.waiter && this.head >= this.queue.length) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<AgentEvent> {
    this.consumed = true;
    return {
      next: () => {
        if (this.head < this.queue.length) {
          const value = this.queue[this.head++] as AgentEvent;
          if (this.head > 1024 && this.head * 2 > this.queue.length) {
            this.queue = this.queue.slice(this.head);
            this.head = 0;
          }
          if (this.paused && this.queue.length - this.head < this.highWater / 2) {
            this.paused = false;
            this.flow.resume();
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiter = resolve));
      },
    };
  }
}

/** An AgentRun whose events `run` pushes into a fresh channel, closed once the run settles. */
export function runOnChannel(run: (channel: EventChannel) => Promise<AttemptResult>): AgentRun {
  const channel = new EventChannel();
  const result = run(channel).finally(() => channel.close());
  return { events: channel, result, [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
}
