// Budgets as a stop criterion: per stage and per change, in wall time, turns, tokens
// and cost. An attempt gets the tighter of its stage's budget and what is left of the
// change's budget.
import type { Budget } from './pipeline';

export interface Spend {
  wallTimeMs: number;
  turns: number;
  tokens: number;
  costUsd: number;
}

export const NO_SPEND: Spend = { wallTimeMs: 0, turns: 0, tokens: 0, costUsd: 0 };

function tighter(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** What the next attempt may spend. Undefined fields are unlimited. */
export function attemptBudget(stage: Budget, change: Budget, changeSpend: Spend): Budget {
  const left = (limit: number | undefined, spent: number) => (limit === undefined ? undefined : Math.max(0, limit - spent));
  const budget: Budget = {};
  const wall = tighter(stage.wallTimeMs, left(change.wallTimeMs, changeSpend.wallTimeMs));
  const turns = tighter(stage.turns, left(change.turns, changeSpend.turns));
  const tokens = tighter(stage.tokens, left(change.tokens, changeSpend.tokens));
  const cost = tighter(stage.costUsd, left(change.costUsd, changeSpend.costUsd));
  if (wall !== undefined) budget.wallTimeMs = wall;
  if (turns !== undefined) budget.turns = turns;
  if (tokens !== undefined) budget.tokens = tokens;
  if (cost !== undefined) budget.costUsd = cost;
  return budget;
}

/** The first limit of `budget` that `spend` has reached, in words, or undefined. */
export function exhausted(budget: Budget, spend: Spend): string | undefined {
  if (budget.wallTimeMs !== undefined && spend.wallTimeMs >= budget.wallTimeMs) return `wall time budget of ${Math.round(budget.wallTimeMs / 1000)} s is used up`;
  if (budget.turns !== undefined && spend.turns >= budget.turns) return `turn budget of ${budget.turns} is used up`;
  if (budget.tokens !== undefined && spend.tokens >= budget.tokens) return `token budget of ${budget.tokens} is used up`;
  if (budget.costUsd !== undefined && spend.costUsd >= budget.costUsd) return `cost budget of $${budget.costUsd} is used up`;
  return undefined;
}

export function addSpend(a: Spend, b: Partial<Spend>): Spend {
  return {
    wallTimeMs: a.wallTimeMs + (b.wallTimeMs ?? 0),
    turns: a.turns + (b.turns ?? 0),
    tokens: a.tokens + (b.tokens ?? 0),
    costUsd: a.costUsd + (b.costUsd ?? 0),
  };
}
