// What a person owning a stage is asked to do, as a plain text page: the prompt their
// stage renders (the same one an agent would get), the criteria that wait on them and
// what to do when done. A person's stage has no agent transcript; this is its view.
import type { ChangeState } from '../core/fold';
import type { Pipeline } from '../core/pipeline';
import { statusWords, waitsForPerson } from '../core/actions';

export function stageTaskText(change: ChangeState, pipeline: Pipeline, stageId: string): string {
  const definition = pipeline.stages.find((s) => s.id === stageId);
  const stage = change.stages.find((s) => s.id === stageId);
  if (!definition || !stage) return `There is no stage "${stageId}" in the pipeline.`;
  const who = stage.owner.person ?? 'a person';
  const open = [...stage.attempts].reverse().find((a) => a.backend === 'human' && !a.superseded);
  const lines = [
    `# ${definition.title}: ${change.title}`,
    '',
    `Owner: ${who}. State: ${waitsForPerson(stage) ? `waiting for ${who}` : stage.unverified ? 'passed, unverified' : statusWords(stage.status)}.`,
    '',
    '## What you are asked to do',
    '',
    open?.prompt ?? (definition.prompt.trim() || `Do the ${definition.title} stage of "${change.title}".`),
    '',
    '## What must be true before it hands off',
    '',
    ...(definition.verification.length
      ? definition.verification.map((c) => {
          const result = stage.results.find((r) => r.criterionId === c.id);
          const approver = c.kind === 'humanApproval' && c.approver ? ` by ${c.approver}` : '';
          return `- ${c.title ?? c.id} (${c.kind === 'humanApproval' ? `an approval${approver}` : c.kind})${c.required ? '' : ', advisory'}: ${result ? result.outcome : 'waiting'}`;
        })
      : ['- Nothing is checked: the stage hands off as "passed, unverified" when you mark it done.']),
    '',
    '## When you are done',
    '',
    'In the Stages view, on this stage: Approve Stage (when it asked for approval), Mark Stage Done by Hand (with a note: the summary the next stage reads), or Send Stage Back (to this or an earlier stage, with what must change).',
  ];
  if (stage.sentBack) lines.push('', `Sent back${stage.sentBack.by ? ` by ${stage.sentBack.by}` : ''}: ${stage.sentBack.note ?? ''}`);
  return `${lines.join('\n')}\n`;
}
