// dist/cli.js carries the engine as a compressed comment at its end (esbuild.config.mjs)
// and compiles it with a V8 code cache kept in the per-user cache folder
// (src/cli/embedded.ts): the cache is written by the first command and rewritten when
// torn; a file whose payload was damaged or swapped is refused with a clear error.
import * as assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildCli, CLI, sandbox, type Sandbox } from './helpers';

const run = (b: Sandbox, cli: string, args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: b.dir, env: b.env, encoding: 'utf8' });

describe('cli: the embedded commands bundle and its code cache', function () {
  this.timeout(120_000);
  before(() => buildCli());

  it('the first command writes the code cache in the user cache folder; a torn cache is rewritten, not trusted', () => {
    const b = sandbox();
    try {
      assert.equal(run(b, CLI, ['--version']).status, 0);
      const codeCache = join(b.cache, 'code-cache');
      assert.throws(() => readdirSync(codeCache), '--version compiles nothing, so it caches nothing');
      assert.equal(run(b, CLI, ['status', '--json']).status, 0);
      const [file] = readdirSync(codeCache);
      assert.match(file!, new RegExp(`^cli-[0-9a-f]{16}-${process.version}-${process.arch}\\.bin$`));
      const size = statSync(join(codeCache, file!)).size;
      assert.ok(size > 100_000, `a real code cache (${size} bytes)`);

      writeFileSync(join(codeCache, file!), 'torn');
      const again = run(b, CLI, ['status', '--json']);
      assert.equal(again.status, 0, again.stderr);
      assert.ok(statSync(join(codeCache, file!)).size > 100_000, 'V8 rejected the torn cache and it was written again');
    } finally {
      b.cleanup();
    }
  });

  it('a damaged payload is refused, naming the file', () => {
    const b = sandbox();
    try {
      const copy = join(b.home, 'cli.js');
      copyFileSync(CLI, copy);
      const text = readFileSync(copy, 'latin1');
      const at = text.lastIndexOf('*/') - 10;
      writeFileSync(copy, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1), 'latin1');
      assert.equal(run(b, copy, ['--version']).status, 0, '--version does not need it');
      const damaged = run(b, copy, ['status']);
      assert.equal(damaged.status, 3);
      assert.match(damaged.stderr, new RegExp(`${copy.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} was replaced or damaged`));
    } finally {
      b.cleanup();
    }
  });
});
