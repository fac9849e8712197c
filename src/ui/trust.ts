// Workspace Trust: git itself can run commands a repository configures (hooks,
// core.fsmonitor), so in an untrusted workspace the cockpit does not run git at all
// and reads the record only. Trust granted later switches git on without a reload.
import * as vscode from 'vscode';
import type { GitIdentity, GitPort } from '../git/gitAdapter';

export class TrustGatedGit implements GitPort {
  constructor(private readonly trusted: GitPort) {}

  private get allowed(): boolean {
    return vscode.workspace.isTrusted;
  }

  isRepository(): Promise<boolean> {
    return this.allowed ? this.trusted.isRepository() : Promise.resolve(false);
  }

  currentBranch(): Promise<string | undefined> {
    return this.allowed ? this.trusted.currentBranch() : Promise.resolve(undefined);
  }

  createBranch(name: string): Promise<void> {
    if (!this.allowed) return Promise.reject(new Error('This workspace is not trusted: Factory Cockpit does not run git here. Trust the folder to create branches.'));
    return this.trusted.createBranch(name);
  }

  async identity(): Promise<GitIdentity> {
    return this.allowed ? this.trusted.identity() : { name: process.env.USER ?? 'unknown' };
  }
}
