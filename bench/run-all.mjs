#!/usr/bin/env node
// Runs every benchmark in bench/ one after the other; each prints its own numbers.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
for (const file of readdirSync(here).sort()) {
  const isBench = (file.endsWith('.ts') || (file.endsWith('.mjs') && file !== 'run-all.mjs'));
  if (!isBench || (only.length && !only.some((o) => file.includes(o)))) continue;
  console.log(`\n== ${file}`);
  const args = ['--expose-gc', ...(file.endsWith('.ts') ? ['--import', 'tsx'] : []), join(here, file)];
  spawnSync(process.execPath, args, { stdio: 'inherit', cwd: join(here, '..') });
}
