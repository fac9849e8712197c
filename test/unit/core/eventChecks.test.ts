// The events' fast checks are generated from their zod schemas into a committed module
// (core/eventChecks.generated.ts), so reading a valid record builds no schema and
// compiles no code at run time. The file must be what the schemas generate now.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventChecksSource } from '../../../src/core/eventChecksSource';
import { CHANGE_ID_PATTERN, ChangeIdSchema, isChangeId } from '../../../src/core/events';

const repo = join(__dirname, '..', '..', '..');

describe('the generated event checks', () => {
  it('are what the zod schemas generate', () => {
    const committed = readFileSync(join(repo, 'src', 'core', 'eventChecks.generated.ts'), 'utf8');
    assert.equal(committed, eventChecksSource(), 'run `npm run event-checks` to regenerate src/core/eventChecks.generated.ts');
  });

  it('vouch for a valid event where code cannot be generated at run time', () => {
    // Checks compiled at run time (new Function) would leave every event to zod here.
    const script = `
      const { fastEventCheck } = require('./src/core/events.ts');
      const event = { v: 1, id: '01JAAAAAAAAAAAAAAAAAAAAZZ1', change: 'add-login-abc123', type: 'change.created', at: '2026-11-20T09:00:00.000Z', data: { title: 'Add login' } };
      process.stdout.write(String(fastEventCheck(event)));`;
    const run = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '-e', script], { cwd: repo, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'true');
  });

  it('isChangeId answers what ChangeIdSchema answers', () => {
    for (const value of ['add-login-abc123', 'a', '0', '-a', 'A', 'a_b', 'a'.repeat(80), 'a'.repeat(81), 'ab\n', '', ' a', 'ä', 42, null, undefined, ['a'], { a: 1 }]) {
      assert.equal(isChangeId(value), ChangeIdSchema.safeParse(value).success, JSON.stringify(value));
    }
    assert.equal(CHANGE_ID_PATTERN.flags, '', 'a global or sticky pattern would keep state between tests');
  });
});
