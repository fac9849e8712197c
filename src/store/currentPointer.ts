// Which change is current in a working folder, where every surface reads the same
// answer: the editor, the CLI in a terminal, the MCP server. A small JSON file in the
// repository's per-user cache folder (cacheDir.ts), keyed by the folder's real path,
// so each git worktree has its own and nothing is written into the repository (an
// untrusted open writes nothing there either). Losing it loses nothing: the
// branch-bound rule and "the newest open change" pick the current change again.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './atomicFile';
import { repositoryCacheDir } from './cacheDir';

export interface CurrentPointer {
  /** The change a person picked (or started) here. */
  changeId?: string;
  /** The branch checked out when the pointer was last reconciled with it. */
  branch?: string;
}

export class CurrentPointerFile {
  readonly path: string;

  constructor(workspaceRoot: string, cacheRoot?: string) {
    this.path = path.join(repositoryCacheDir(workspaceRoot, cacheRoot), 'current.json');
  }

  async read(): Promise<CurrentPointer> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch {
      return {};
    }
    try {
      const value = JSON.parse(text) as unknown;
      if (!value || typeof value !== 'object') return {};
      const { changeId, branch } = value as Record<string, unknown>;
      return { ...(typeof changeId === 'string' ? { changeId } : {}), ...(typeof branch === 'string' ? { branch } : {}) };
    } catch {
      // A torn or foreign file: the rules pick the current change again.
      return {};
    }
  }

  async write(pointer: CurrentPointer): Promise<void> {
    await fs.mkdir(path.dirname(this.path), { recursive: true });
    await writeFileAtomic()(this.path, `${JSON.stringify(pointer)}\n`);
  }
}
