// The git adapter (on simple-git): what the record binds itself to. Every call runs
// git with an argument array in the workspace; nothing here touches the user's index.
import { simpleGit, type SimpleGit } from 'simple-git';

export interface GitIdentity {
  name: string;
  email?: string;
}

export interface GitPort {
  isRepository(): Promise<boolean>;
  /** The checked-out branch, or undefined on a detached HEAD or outside a repository. */
  currentBranch(): Promise<string | undefined>;
  createBranch(name: string): Promise<void>;
  identity(): Promise<GitIdentity>;
}

export class GitAdapter implements GitPort {
  private readonly git: SimpleGit;

  constructor(readonly workspaceRoot: string) {
    this.git = simpleGit({ baseDir: workspaceRoot, trimmed: true });
  }

  async isRepository(): Promise<boolean> {
    try {
      return (await this.git.revparse(['--is-inside-work-tree'])) === 'true';
    } catch {
      return false;
    }
  }

  async currentBranch(): Promise<string | undefined> {
    try {
      // symbolic-ref works on a repository with no commits yet, unlike rev-parse HEAD.
      const ref = await this.git.raw(['symbolic-ref', '--quiet', '--short', 'HEAD']);
      return ref.trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async createBranch(name: string): Promise<void> {
    await this.git.raw(['switch', '-c', name]);
  }

  async identity(): Promise<GitIdentity> {
    const read = async (key: string) => {
      try {
        return (await this.git.raw(['config', '--get', key])).trim() || undefined;
      } catch {
        return undefined;
      }
    };
    const [name, email] = await Promise.all([read('user.name'), read('user.email')]);
    return { name: name ?? process.env.USER ?? 'unknown', ...(email ? { email } : {}) };
  }
}
