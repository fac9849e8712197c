import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPipeline } from '../../../src/core/pipeline';
import { renderPrompt } from '../../../src/core/prompt';
import { detectTestCommand } from '../../../src/store/projectTests';

describe('the default pipeline', () => {
  const change = { id: 'c-1', title: 'Add password reset', description: 'Users reset a forgotten password by email.' };
  const pack = '## Context\n- src/auth.ts';

  it('renders every default prompt as a person would write it: the pack once, no doubled labels', () => {
    const pipeline = defaultPipeline();
    const render = (stageId: string, previous?: { stageId: string; summary?: string; outputs: string[] }, failures?: string) => {
      const stage = pipeline.stages.find((s) => s.id === stageId)!;
      return renderPrompt(stage.prompt, { change, stage: { id: stage.id, title: stage.title, role: stage.role }, context: pack, ...(previous ? { previous } : {}), ...(failures ? { failures } : {}), attempt: 1 });
    };
    assert.equal(render('plan').text, 'Write PLAN.md: a short plan for "Add password reset".\n\nUsers reset a forgotten password by email.\n\n## Context\n- src/auth.ts');
    assert.equal(
      render('implement', { stageId: 'plan', summary: 'Two steps: a token table, then the email.', outputs: ['PLAN.md'] }).text,
      'Implement "Add password reset" following the plan in PLAN.md.\n\nWhat the plan stage handed over: Two steps: a token table, then the email.\n\n## Context\n- src/auth.ts',
    );
    assert.equal(
      render('test', { stageId: 'implement', summary: 'Added the reset endpoint.', outputs: [] }, '- Verification "tests-pass" failed: 1 of 3 tests failed').text,
      'Write and run tests for "Add password reset".\n\nWhat the implement stage handed over: Added the reset endpoint.\n\n## Context\n- src/auth.ts\n\nThe previous attempt did not pass. Fix this:\n- Verification "tests-pass" failed: 1 of 3 tests failed',
    );
    for (const stage of pipeline.stages) {
      const text = render(stage.id, { stageId: 'plan', summary: 'S', outputs: [] }).text;
      assert.doesNotMatch(text, /summary: (What|Handoff)|Handoff from/, `${stage.id} reads naturally`);
      assert.ok(text.split(pack).length <= 2, `${stage.id} has the pack at most once`);
      assert.doesNotMatch(text, /\{\{/, `${stage.id} has no placeholder left`);
    }
  });

  it('verifies Implement and Test with the project\'s own tests when it has some, and proposes nothing it cannot find', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-detect-'));
    try {
      assert.equal(detectTestCommand(dir), undefined);
      const bare = defaultPipeline();
      assert.deepEqual(bare.stages.filter((s) => s.owner.backend !== 'human' && s.verification.length === 0).map((s) => s.id), ['implement', 'test'], 'without tests they hand off unverified, and say so');

      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1' } }));
      assert.equal(detectTestCommand(dir), undefined, "npm init's placeholder is not a test command");
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'node --test' } }));
      const node = detectTestCommand(dir)!;
      assert.equal(node.format, 'junit');
      assert.ok(node.argv.includes('--test-reporter=junit'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'mocha' }, devDependencies: { mocha: '^11' } }));
      const mocha = detectTestCommand(dir)!;
      assert.deepEqual(mocha.reports, ['test-results/junit.xml']);
      const pipeline = defaultPipeline({ tests: mocha });
      const test = pipeline.stages.find((s) => s.id === 'test')!.verification[0]!;
      assert.equal(test.kind, 'testReport');
      assert.equal(pipeline.stages.find((s) => s.id === 'implement')!.verification[0]!.kind, 'testReport');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'tap' } }));
      const other = defaultPipeline({ tests: detectTestCommand(dir)! }).stages.find((s) => s.id === 'test')!.verification[0]!;
      assert.deepEqual([other.kind, 'argv' in other ? other.argv : []], ['command', ['npm', 'test']], 'an unknown runner: its exit code');
      rmSync(join(dir, 'package.json'));
      writeFileSync(join(dir, 'go.mod'), 'module x\n');
      assert.deepEqual(detectTestCommand(dir)!.argv, ['go', 'test', './...']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
