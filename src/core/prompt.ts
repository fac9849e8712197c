// Prompt templates: a stage's `prompt` in pipeline.json with {{placeholders}} for the
// change, the context pack, the previous stage's handoff and the failures of the last
// attempt. The rendered prompt is stored with the attempt, so a reviewer sees exactly
// what the agent was told.

export interface PromptValues {
  change: { id: string; title: string; description?: string; ticket?: string; branch?: string };
  stage: { id: string; title: string; role: string };
  /** The context pack rendered for the agent. */
  context: string;
  previous?: { stageId: string; summary?: string; outputs: string[] };
  /** What went wrong last time (agent error, verification failure, reviewer's note). */
  failures?: string;
  attempt: number;
}

export interface RenderedPrompt {
  text: string;
  /** Placeholders the template names that do not exist (left in the text as written). */
  unknown: string[];
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+(?:\.[a-zA-Z]+)?)\s*\}\}/g;

export const DEFAULT_PROMPT = '{{stage.title}} for the change "{{change.title}}".\n\n{{change.description}}\n\n{{previous.handoff}}\n\n{{context}}\n\n{{failures}}';

export function renderPrompt(template: string, values: PromptValues): RenderedPrompt {
  const table: Record<string, string> = {
    'change.id': values.change.id,
    'change.title': values.change.title,
    'change.description': values.change.description ?? '',
    'change.ticket': values.change.ticket ?? '',
    'change.branch': values.change.branch ?? '',
    'stage.id': values.stage.id,
    'stage.title': values.stage.title,
    'stage.role': values.stage.role,
    context: values.context,
    'previous.stage': values.previous?.stageId ?? '',
    // The summary as the previous stage wrote it; `previous.handoff` says where it comes from.
    'previous.summary': values.previous?.summary ?? '',
    'previous.handoff': values.previous?.summary ? `What the ${values.previous.stageId} stage handed over: ${values.previous.summary}` : '',
    'previous.outputs': values.previous?.outputs.length ? `Outputs of ${values.previous.stageId}: ${values.previous.outputs.join(', ')}` : '',
    failures: values.failures ? `The previous attempt did not pass. Fix this:\n${values.failures}` : '',
    attempt: String(values.attempt),
  };
  const unknown = new Set<string>();
  const text = (template.trim() ? template : DEFAULT_PROMPT).replace(PLACEHOLDER, (whole, name: string) => {
    if (name in table) return table[name]!;
    unknown.add(name);
    return whole;
  });
  // Empty placeholders leave runs of blank lines; keep at most one.
  return { text: text.replace(/\n{3,}/g, '\n\n').trim(), unknown: [...unknown] };
}
