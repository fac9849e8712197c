// A production build of the checkout in its own folder (the sources linked, the build
// script and manifest copied, dist/ its own), so a host bench never rewrites the
// checkout's dist/, which other host runs on this machine may be using.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repo } from '../../test/harness/common.mjs';

export function buildExtensionIn(dir) {
  mkdirSync(dir, { recursive: true });
  for (const name of ['src', 'node_modules', 'media', 'schemas']) symlinkSync(join(repo, name), join(dir, name));
  for (const name of ['package.json', 'tsconfig.json', 'esbuild.config.mjs']) copyFileSync(join(repo, name), join(dir, name));
  execFileSync(process.execPath, ['esbuild.config.mjs', '--production'], { cwd: dir, stdio: 'inherit' });
  return dir;
}
