// Workspace Trust: git itself can run commands a repository configures (hooks,
// core.fsmonitor), so in an untrusted workspace the factory does not run git at all
// and reads the record only. Trust granted later switches git on without a restart.
import type { EngineGit } from './ports';

/** Whether the folder is trusted now (the editor's Workspace Trust; the CLI's --trust or its config). */
export interface TrustPort {
  isTrusted(): boolean;
}

export class WorkspaceNotTrustedError extends Error {
  constructor(what: string) {
    super(`This workspace is not trusted: Factory Cockpit does not ${what} here. Trust the folder (Manage Workspace Trust) to allow it.`);
    this.name = 'WorkspaceNotTrustedError';
  }
}

/** Wraps the real git adapter; every call that would run git is refused until trusted. */
/** `fallbackUser`: the identity an untrusted folder gets, asked only then. */
export function trustGatedGit(trusted: EngineGit, trust: TrustPort, fallbackUser: () => string): EngineGit {
  const allowed = () => trust.isTrusted();
  const refuse = (): Promise<never> => Promise.reject(new WorkspaceNotTrustedError('run git'));
  return {
    isRepository: () => (allowed() ? trusted.isRepository() : Promise.resolve(false)),
    currentBranch: () => (allowed() ? trusted.currentBranch() : Promise.resolve(undefined)),
    identity: () => (allowed() ? trusted.identity() : Promise.resolve({ name: fallbackUser() })),
    createBranch: (name) => (allowed() ? trusted.createBranch(name) : refuse()),
    headCommit: () => (allowed() ? trusted.headCommit() : refuse()),
    workingTreeHash: () => (allowed() ? trusted.workingTreeHash() : refuse()),
    snapshot: () => (allowed() ? trusted.snapshot() : refuse()),
    diffTrees: (from, to) => (allowed() ? trusted.diffTrees(from, to) : refuse()),
    createCheckpoint: (id) => (allowed() ? trusted.createCheckpoint(id) : refuse()),
    getCheckpoint: (id) => (allowed() ? trusted.getCheckpoint(id) : refuse()),
    listCheckpoints: () => (allowed() ? trusted.listCheckpoints() : refuse()),
    rollbackPreview: (id) => (allowed() ? trusted.rollbackPreview(id) : refuse()),
    rollback: (id) => (allowed() ? trusted.rollback(id) : refuse()),
    deleteCheckpoint: (id) => (allowed() ? trusted.deleteCheckpoint(id) : refuse()),
  };
}
