// What of .factory/ goes into git. The record (pipeline, events, evidence) is ordinary
// repository content; what is local (locks) or half-written (temp files of a killed
// writer) is not. The derived summary index lives outside the repository (cacheDir.ts);
// `.cache/` stays ignored for repositories where an older version wrote it there. See
// docs/record.md for the policy, including keeping large evidence in git LFS or local only.
import * as path from 'node:path';
import { AlreadyExistsError } from './atomicFile';
import { RecordFs } from './recordFs';

export const FACTORY_GITIGNORE = [
  '# Written by Factory Cockpit on first use; edit freely, it is never rewritten.',
  '# Derived and rebuildable: where older versions kept the summary index (now in the per-user cache).',
  '.cache/',
  '# Local coordination between processes of one machine.',
  'locks/',
  '# Temp files of a writer that was killed midway (never part of the record).',
  '.*.tmp',
  '*.json.[0-9]*',
  'evidence/.tmp/',
  '# To keep evidence on this machine only, uncomment:',
  '# evidence/',
  '',
].join('\n');

/**
 * Writes `.factory/.gitignore` when there is none. Returns true when it wrote it.
 * An existing file (perhaps edited by the user) is left as it is, and so is anything
 * else of that name (a link is never written through: the name is created exclusively).
 * Folders are created and checked through RecordFs (no link at `.factory`).
 */
export async function ensureFactoryGitignore(factoryDir: string, fsx: RecordFs = new RecordFs(path.dirname(factoryDir))): Promise<boolean> {
  try {
    await fsx.createExclusive(path.join(factoryDir, '.gitignore'), FACTORY_GITIGNORE);
    return true;
  } catch (error) {
    if (error instanceof AlreadyExistsError) return false;
    throw error;
  }
}
