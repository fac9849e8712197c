// Whether a verification result still speaks for the working tree. A result is bound
// to the tree hash it verified; any edit after it (a different hash) makes it stale.
// A result without a tree hash, or a workspace whose hash is unknown, is never fresh:
// freshness must be proven, not assumed.

export type Freshness = 'fresh' | 'stale';

export interface FreshnessVerdict {
  state: Freshness;
  /** Why, in a sentence a tooltip can show. */
  reason: string;
}

/** `verifiedTree`: the working-tree hash a result verified; `currentTree`: the hash now. */
export function freshnessOf(verifiedTree: string | undefined, currentTree: string | undefined): FreshnessVerdict {
  if (!verifiedTree) return { state: 'stale', reason: 'the result records no working-tree hash, so it cannot be matched to the current tree' };
  if (!currentTree) return { state: 'stale', reason: 'the current working-tree hash is unknown' };
  if (verifiedTree === currentTree) return { state: 'fresh', reason: `verified the current working tree (${short(verifiedTree)})` };
  return { state: 'stale', reason: `the working tree changed since it was verified (verified ${short(verifiedTree)}, now ${short(currentTree)})` };
}

export function isFresh(verifiedTree: string | undefined, currentTree: string | undefined): boolean {
  return freshnessOf(verifiedTree, currentTree).state === 'fresh';
}

function short(hash: string): string {
  return hash.length > 12 ? hash.slice(0, 12) : hash;
}
