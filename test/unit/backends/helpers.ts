// Shared helpers for the backend tests: temp workspaces, the fake CLIs, pid checks.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AgentEvent, AttemptResult } from '../../../src/core/agentEvents';
import { pidAlive } from '../../../src/backends/processTree';
import type { AgentRun, TranscriptEntry, TranscriptSink } from '../../../src/backends/types';

export const FIXTURES = path.resolve(__dirname, '../../fixtures/agents');
export const fake = (tool: string) => path.join(FIXTURES, `fake-${tool}.mjs`);

export interface Workspace {
  dir: string;
  pidsFile: string;
  argsFile: string;
  cleanup(): Promise<void>;
}

export async function tempWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'factory-backend-test-'));
  await writeFile(path.join(dir, 'README.md'), '# Demo project\n');
  return {
    dir,
    pidsFile: path.join(dir, '.pids.json'),
    argsFile: path.join(dir, '.args.json'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function fakeEnv(ws: Workspace, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: ws.dir, FAKE_PIDS_FILE: ws.pidsFile, FAKE_ARGS_FILE: ws.argsFile, ...extra };
}

export class MemorySink implements TranscriptSink {
  readonly entries: TranscriptEntry[] = [];
  write(entry: TranscriptEntry): void {
    this.entries.push(entry);
  }
  text(): string {
    return this.entries.map((e) => `${e.stream}: ${e.line}`).join('\n');
  }
}

export async function collect(run: AgentRun): Promise<{ events: AgentEvent[]; result: AttemptResult }> {
  const events: AgentEvent[] = [];
  for await (const event of run) events.push(event);
  return { events, result: await run.result };
}

export async function readPids(ws: Workspace): Promise<{ pid: number; grandchild: number }> {
  return JSON.parse(await readFile(ws.pidsFile, 'utf8')) as { pid: number; grandchild: number };
}

/** Waits until the pids file exists (the fake has started its grandchild). */
export async function waitForPids(ws: Workspace, timeoutMs = 10000): Promise<{ pid: number; grandchild: number }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readPids(ws);
    } catch {
      if (Date.now() > until) throw new Error('the fake agent never wrote its pids');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** True when both pids are gone within `timeoutMs` (a killed process may take a moment to be reaped). */
export async function allDead(pids: number[], timeoutMs = 5000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (pids.every((pid) => !pidAlive(pid))) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return pids.every((pid) => !pidAlive(pid));
}

export function kinds(events: readonly AgentEvent[]): string[] {
  return events.map((e) => e.kind);
}

export function ofKind<K extends AgentEvent['kind']>(events: readonly AgentEvent[], kind: K): Extract<AgentEvent, { kind: K }>[] {
  return events.filter((e): e is Extract<AgentEvent, { kind: K }> => e.kind === kind);
}
