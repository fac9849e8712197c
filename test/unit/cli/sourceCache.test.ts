// After the first command checked the embedded payload against its hash, dist/cli.js
// runs its commands from the decompressed source kept in the user cache folder
// (src/cli/embedded.ts): later starts neither hash nor decompress the payload. A kept
// source that no longer compiles is replaced from the payload.
import * as assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Script } from 'node:vm';
import { buildCli, CLI, sandbox, type Sandbox } from './helpers';

const run = (b: Sandbox, cli: string, args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: b.dir, env: b.env, encoding: 'utf8' });

/** A copy of dist/cli.js whose payload is damaged (its loader still names the original hash). */
function damagedCopy(b: Sandbox): string {
  const copy = join(b.home, 'cli.js');
  copyFileSync(CLI, copy);
  const text = readFileSync(copy, 'latin1');
  const at = text.lastIndexOf('*/') - 10;
  writeFileSync(copy, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1), 'latin1');
  return copy;
}

describe('cli: the checked source kept in the user cache folder', function () {
  this.timeout(120_000);
  before(() => buildCli());

  it('is written by the first command under the payload hash and read by the next ones instead of the payload', () => {
    const b = sandbox();
    try {
      const first = run(b, CLI, ['status', '--json']);
      assert.equal(first.status, 0, first.stderr);
      const [kept] = readdirSync(join(b.cache, 'cli-source'));
      assert.match(kept!, /^[0-9a-f]{64}\.js$/);
      assert.ok(statSync(join(b.cache, 'cli-source', kept!)).size > 100_000, 'the whole bundle');

      // The same build with its payload damaged: a start that read the payload would refuse (exit 3).
      const again = run(b, damagedCopy(b), ['status', '--json']);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(again.stdout, first.stdout, 'the same output as the first run');
    } finally {
      b.cleanup();
    }
  });

  it('a kept source cut short is replaced from the payload, which is checked again', () => {
    const b = sandbox();
    try {
      assert.equal(run(b, CLI, ['status']).status, 0);
      const folder = join(b.cache, 'cli-source');
      const [kept] = readdirSync(folder);
      const file = join(folder, kept!);
      const whole = readFileSync(file, 'utf8');
      writeFileSync(file, whole.slice(0, Math.floor(whole.length / 2)));
      const repaired = run(b, CLI, ['status', '--json']);
      assert.equal(repaired.status, 0, repaired.stderr);
      assert.equal(readFileSync(file, 'utf8'), whole, 'written whole again');

      writeFileSync(file, whole.slice(0, Math.floor(whole.length / 2)));
      const damaged = run(b, damagedCopy(b), ['status']);
      assert.equal(damaged.status, 3, 'with the kept source unusable, the damaged payload is refused');
      assert.match(damaged.stderr, /was replaced or damaged/);
    } finally {
      b.cleanup();
    }
  });

  it('a kept source cut after a complete statement, which still compiles, is replaced too', () => {
    const b = sandbox();
    try {
      assert.equal(run(b, CLI, ['status']).status, 0);
      const folder = join(b.cache, 'cli-source');
      const file = join(folder, readdirSync(folder)[0]!);
      const whole = readFileSync(file, 'utf8');
      // The last `;` before the middle where what is left compiles as the loader wraps it.
      let cut = Math.floor(whole.length / 2);
      for (;;) {
        cut = whole.lastIndexOf(';', cut - 1);
        assert.ok(cut > 0, 'a cut that compiles');
        try {
          new Script(`(function (exports, require, module, __filename, __dirname) { ${whole.slice(0, cut + 1)}\n});`);
          break;
        } catch {
          /* inside a function: try an earlier one */
        }
      }
      writeFileSync(file, whole.slice(0, cut + 1));
      const repaired = run(b, CLI, ['status', '--json']);
      assert.equal(repaired.status, 0, repaired.stderr);
      assert.equal(readFileSync(file, 'utf8'), whole, 'written whole again');
    } finally {
      b.cleanup();
    }
  });
});
