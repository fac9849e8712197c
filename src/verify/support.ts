// Small helpers the checkers share.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS, type CriterionResult, type VerifyContext, type VerifyLimits } from './ports';

/** What a checker found; the runner turns it into a CriterionResult. */
export type CheckResult = Pick<CriterionResult, 'outcome' | 'message' | 'evidence'> &
  Partial<Pick<CriterionResult, 'command' | 'tests' | 'screenshots' | 'files' | 'approval' | 'waitingForApproval'>> & {
    /** Details for the next attempt's prompt (the runner bounds and heads them). */
    feedback?: string;
    browser?: string;
  };

/** Evidence files larger than this are listed, not stored. */
export const MAX_EVIDENCE_FILE_BYTES = 20 * 1024 * 1024;
export const MAX_EVIDENCE_FILES = 50;

export function limitsOf(ctx: Pick<VerifyContext, 'limits'>): VerifyLimits {
  return { ...DEFAULT_LIMITS, ...ctx.limits };
}

export function commandEnv(ctx: VerifyContext, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return { ...(ctx.env ?? process.env), ...extra };
}

export async function withTempDir<T>(ctx: VerifyContext, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(ctx.tempDir ?? os.tmpdir(), 'factory-verify-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

