// The read-only questions an agent in the editor asks most, as language model tools
// (`contributes.languageModelTools`), answered in the window without a server process.
// The activation shell registers them (and the MCP server definition provider, which
// needs nothing of the engine) and delegates each call here once the workbench loads.
import * as vscode from 'vscode';
import type { Factory } from '../engine/factory';

type ToolInput = Record<string, unknown>;

export function languageModelTools(factory: Factory): Record<string, vscode.LanguageModelTool<ToolInput>> {
  return {
    factory_get_change: {
      invoke: async (options) => {
        const change = await changeOf(factory, options.input.changeId);
        const lines = [`Change ${change.id}: ${change.title}`, ...change.stages.map((s) => `- ${s.id} (${s.title}): ${s.status}${s.handedOff ? ', handed off' : ''}; owner ${s.owner.backend}; ${s.attempts.length} attempt(s)`)];
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(lines.join('\n'))]);
      },
    },
    factory_get_context: {
      invoke: async (options) => {
        const change = await changeOf(factory, options.input.changeId);
        const budget = options.input.budgetTokens;
        const rendered = await factory.context.render(change.id, typeof budget === 'number' && budget > 0 ? { budgetTokens: Math.floor(budget) } : {});
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(`Context pack version ${rendered.version}\n\n${rendered.text}`)]);
      },
    },
  };
}

async function changeOf(factory: Factory, changeId: unknown) {
  if (changeId !== undefined && typeof changeId !== 'string') throw new Error('changeId must be a string.');
  const id = changeId ?? (await factory.readState()).current?.id;
  if (!id) throw new Error('There is no current change in this workspace: start one first.');
  if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(id)) throw new Error(`"${id.slice(0, 80)}" is not a change id.`);
  return factory.change(id);
}
