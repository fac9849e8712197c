// `factory-cockpit review export <change> --format md|html`: the same export as the
// review panel's, written by the built CLI (dist/cli.js), from this folder's record
// and from another branch's through git objects.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli, CLI } from '../cli/helpers';
import { makeReviewHistory, type ReviewHistory } from '../../support/reviewHistory';

describe('review: the CLI export', function () {
  this.timeout(120_000);
  let history: ReviewHistory;
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, '-C', history.dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  before(async () => {
    buildCli();
    history = await makeReviewHistory(join(realpathSync(mkdtempSync(join(tmpdir(), 'fc-review-cli-'))), 'repo'));
  });

  it('prints the Markdown review on stdout', () => {
    const out = cli('review', 'export', history.changeId);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^# Review: Harden login/);
    assert.ok(out.stdout.includes(history.screenshotSha));
  });

  it('writes the HTML review to a file: no script, the screenshot embedded', () => {
    const file = join(history.dir, '..', 'review.html');
    const out = cli('review', 'export', history.changeId, '--format', 'html', '-o', file);
    assert.equal(out.status, 0, out.stderr);
    const page = readFileSync(file, 'utf8');
    assert.ok(!/<script/i.test(page));
    assert.ok(page.includes('data:image/png;base64,'));
  });

  it('exports a change only another branch holds, naming who committed its events', () => {
    const out = cli('review', 'export', history.otherBranch.changeId, '--ref', history.otherBranch.ref);
    assert.equal(out.status, 0, out.stderr);
    assert.ok(out.stdout.includes(`committed by ${history.otherBranch.committer}`));
  });

  it('refuses an unknown format as a usage error', () => {
    const out = cli('review', 'export', history.changeId, '--format', 'pdf');
    assert.equal(out.status, 2);
  });
});
