// Test ports for the verification runner: a real temp workspace under git, a tree
// hasher that asks real git, an evidence sink that keeps bytes by sha256, a clock.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CriterionSchema, type Criterion } from '../../../src/core/pipeline';
import type { EvidenceRef } from '../../../src/core/events';
import type { EvidenceSink, TreeHasher, VerifyClock, VerifyContext } from '../../../src/verify/ports';

const run = promisify(execFile);

export async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: { ...process.env, ...env } });
  return stdout.trim();
}

export async function makeWorkspace(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verify-test-'));
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['config', 'user.name', 'Test']);
  await git(dir, ['config', 'user.email', 'test@example.com']);
  await writeFile(path.join(dir, 'README.md'), '# workspace\n');
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', 'init']);
  return dir;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export async function writeIn(dir: string, relative: string, content: string): Promise<string> {
  const file = path.join(dir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

/** Hashes the working tree through a throwaway index, the way the git adapter does (tracked + untracked, .factory/ excluded). */
export function gitTreeHasher(dir: string): TreeHasher {
  return {
    async headCommit() {
      try {
        return await git(dir, ['rev-parse', 'HEAD']);
      } catch {
        return undefined;
      }
    },
    async workingTreeHash() {
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'verify-index-'));
      try {
        const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
        await git(dir, ['add', '-A', '--', '.', ':(exclude).factory'], env);
        return await git(dir, ['write-tree'], env);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  };
}

export interface StoredEvidence {
  ref: EvidenceRef;
  bytes: Buffer;
}

export class MemoryEvidence implements EvidenceSink {
  readonly items: StoredEvidence[] = [];

  async putFile(file: string, name: string, mediaType?: string): Promise<EvidenceRef> {
    return this.putBytes(await readFile(file), name, mediaType);
  }

  async putBytes(bytes: Uint8Array, name: string, mediaType?: string): Promise<EvidenceRef> {
    const buffer = Buffer.from(bytes);
    const ref: EvidenceRef = { sha256: createHash('sha256').update(buffer).digest('hex'), name, bytes: buffer.length, ...(mediaType ? { mediaType } : {}) };
    this.items.push({ ref, bytes: buffer });
    return ref;
  }

  byName(name: string): StoredEvidence | undefined {
    return this.items.find((item) => item.ref.name === name);
  }

  text(name: string): string {
    const item = this.byName(name);
    if (!item) throw new Error(`no evidence named ${name}; have ${this.items.map((i) => i.ref.name).join(', ')}`);
    return item.bytes.toString('utf8');
  }
}

export const systemClock: VerifyClock = { now: () => new Date() };

export function context(workspaceRoot: string, overrides: Partial<VerifyContext> = {}): VerifyContext & { evidence: MemoryEvidence } {
  return {
    workspaceRoot,
    stageId: 'test',
    evidence: new MemoryEvidence(),
    tree: gitTreeHasher(workspaceRoot),
    clock: systemClock,
    limits: { killGraceMs: 500 },
    ...overrides,
  } as VerifyContext & { evidence: MemoryEvidence };
}

/** Parses a criterion the way a pipeline.json would be read (defaults applied). */
export function criterion(input: Record<string, unknown>): Criterion {
  return CriterionSchema.parse(input);
}

/** Running (a zombie waiting for a reaper that is not ours counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function readPids(file: string): Promise<number[]> {
  try {
    return (await readFile(file, 'utf8'))
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export const NODE = process.execPath;
