// What of .factory/ goes into git. The record (pipeline, events, evidence) is ordinary
// repository content; what is derived (the index), local (locks) or half-written
// (temp files of a killed writer) is not. See docs/record.md for the policy, including
// keeping large evidence in git LFS or local only.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createFileExclusive, AlreadyExistsError } from './atomicFile';

export const FACTORY_GITIGNORE = [
  '# Written by Factory Cockpit on first use; edit freely, it is never rewritten.',
  '# Derived and rebuildable: the summary index.',
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
 * An existing file (perhaps edited by the user) is left as it is.
 */
export async function ensureFactoryGitignore(factoryDir: string): Promise<boolean> {
  await fs.mkdir(factoryDir, { recursive: true });
  try {
    await createFileExclusive(path.join(factoryDir, '.gitignore'), FACTORY_GITIGNORE);
    return true;
  } catch (error) {
    if (error instanceof AlreadyExistsError) return false;
    throw error;
  }
}
