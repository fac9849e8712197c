// Running token and cost totals of an attempt. Agents report cost late (Claude Code
// only in its final result) or never (Codex, Gemini, Droid report tokens), so the
// meter estimates cost from tokens × a price table the user can edit, and replaces the
// estimate with the agent's own figure when one arrives. Every total says which it is.
import type { UsageEvent } from '../core/agentEvents';
import type { ModelPrice, PriceTable } from './types';

/**
 * List prices in USD per million tokens, as published by the vendors in 2025. A starting
 * point only: the user's `factory.prices` setting replaces or extends it.
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-opus-4*': { input: 15, output: 75, cachedInput: 1.5 },
  'claude-sonnet-4*': { input: 3, output: 15, cachedInput: 0.3 },
  'claude-haiku-4*': { input: 1, output: 5, cachedInput: 0.1 },
  'claude-3-5-haiku*': { input: 0.8, output: 4, cachedInput: 0.08 },
  'gpt-5-mini*': { input: 0.25, output: 2, cachedInput: 0.025 },
  'gpt-5*': { input: 1.25, output: 10, cachedInput: 0.125 },
  'gpt-4.1*': { input: 2, output: 8, cachedInput: 0.5 },
  'o4-mini*': { input: 1.1, output: 4.4, cachedInput: 0.275 },
  'gemini-2.5-pro*': { input: 1.25, output: 10, cachedInput: 0.31 },
  'gemini-2.5-flash-lite*': { input: 0.1, output: 0.4, cachedInput: 0.025 },
  'gemini-2.5-flash*': { input: 0.3, output: 2.5, cachedInput: 0.075 },
};

export function priceFor(model: string | undefined, table: PriceTable): ModelPrice | undefined {
  if (!model) return undefined;
  const exact = table[model];
  if (exact) return exact;
  let best: { length: number; price: ModelPrice } | undefined;
  for (const [key, price] of Object.entries(table)) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (model.startsWith(prefix) && (!best || prefix.length > best.length)) best = { length: prefix.length, price };
  }
  return best?.price;
}

/** Input tokens include the cached ones; cached tokens are billed at the cached rate. */
export function estimateCost(tokens: { inputTokens: number; outputTokens: number; cachedTokens: number }, price: ModelPrice): number {
  const cached = Math.min(tokens.cachedTokens, tokens.inputTokens);
  const usd = ((tokens.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + tokens.outputTokens * price.output) / 1_000_000;
  return Math.round(usd * 1e9) / 1e9;
}

export class UsageMeter {
  private inputTokens = 0;
  private outputTokens = 0;
  private cachedTokens = 0;
  private agentCost: number | undefined;
  private model: string | undefined;
  private seen = false;
  /** The price of the last model looked up: `total()` runs on every usage event. */
  private priced: { model: string | undefined; price: ModelPrice | undefined } | undefined;

  constructor(
    private readonly prices: PriceTable,
    model?: string,
  ) {
    this.model = model;
  }

  setModel(model: string | undefined): void {
    if (model) this.model = model;
  }

  get hasUsage(): boolean {
    return this.seen;
  }

  /** Folds a parser's usage event in and returns the running total to publish. */
  add(event: UsageEvent): UsageEvent {
    this.seen = true;
    if (event.model) this.model = event.model;
    if (event.scope === 'delta') {
      this.inputTokens += event.inputTokens;
      this.outputTokens += event.outputTokens;
      this.cachedTokens += event.cachedTokens;
    } else {
      // An agent's final totals are authoritative; a streamed estimate can only have run low.
      this.inputTokens = Math.max(this.inputTokens, event.inputTokens);
      this.outputTokens = Math.max(this.outputTokens, event.outputTokens);
      this.cachedTokens = Math.max(this.cachedTokens, event.cachedTokens);
    }
    if (event.costUsd !== undefined && event.costSource !== 'estimate') this.agentCost = event.costUsd;
    return this.total();
  }

  total(): UsageEvent {
    // Built field by field, not spread: it runs for every usage event of a long transcript.
    const total: UsageEvent = { kind: 'usage', scope: 'total', inputTokens: this.inputTokens, outputTokens: this.outputTokens, cachedTokens: this.cachedTokens };
    if (this.model) total.model = this.model;
    if (this.agentCost !== undefined) {
      total.costUsd = this.agentCost;
      total.costSource = 'agent';
      return total;
    }
    if (!this.priced || this.priced.model !== this.model) this.priced = { model: this.model, price: priceFor(this.model, this.prices) };
    const price = this.priced.price;
    if (price) {
      total.costUsd = estimateCost(total, price);
      total.costSource = 'estimate';
    }
    return total;
  }
}
