// The palette commands of the walking skeleton. Each turns a person's request into
// an engine call and a view update; the factory logic is in engine/.
import * as vscode from 'vscode';
import { PipelineInvalidError, type BranchMode, type StartChangeInput } from '../engine/changes';
import type { Cockpit } from './cockpit';
import type { Prompter } from './prompts';
import { reportingCommands } from './reportingCommand';

/** Arguments `factory.startChange` accepts from keybindings, tasks or other extensions. */
export interface StartChangeArgs {
  title?: string;
  description?: string;
  ticket?: string;
  branch?: BranchMode;
}

export function registerCommands(cockpit: Cockpit, prompter: Prompter, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const run = reportingCommands(log, (error) =>
    error instanceof PipelineInvalidError ? `The pipeline definition is invalid: ${error.message}` : error instanceof Error ? error.message : String(error),
  );

  return [
    run('factory.startChange', async (args?: StartChangeArgs) => {
      const input = await askForChange(cockpit, prompter, args ?? {});
      if (!input) return undefined;
      const change = await cockpit.factory.startChange(input);
      log.info(`Started change ${change.id} "${change.title}"${change.branch ? ` on ${change.branch}` : ''}`);
      await cockpit.refresh();
      await revealStages();
      return change.id;
    }),
    run('factory.switchChange', async (changeId?: string) => {
      const snapshot = await cockpit.refresh();
      const open = snapshot.changes.filter((c) => !c.completed);
      const id =
        changeId ??
        (await prompter.pick(
          { title: 'Switch change', placeHolder: open.length ? 'Pick the change to work on' : 'No open change: start one first' },
          open
            .slice()
            .reverse()
            .map((c) => ({
              label: c.title,
              description: [c.branch ? `⎇ ${c.branch}` : undefined, c.ticket, c.id === snapshot.current?.id ? 'current' : undefined].filter(Boolean).join(' · '),
              detail: c.stages.find((s) => s.id === c.activeStageId)?.title ?? 'all stages passed',
              value: c.id,
            })),
        ));
      if (!id) return undefined;
      if (!snapshot.changes.some((c) => c.id === id)) throw new Error(`There is no change "${id}" in .factory/changes.`);
      await cockpit.setCurrent(id);
      return id;
    }),
    run('factory.refresh', async () => {
      await cockpit.refresh();
    }),
    run('factory.showStages', revealStages),
    run('factory.openPipeline', async () => {
      await cockpit.factory.store.loadPipeline({ createIfMissing: true });
      await vscode.window.showTextDocument(vscode.Uri.file(cockpit.factory.store.pipelinePath));
    }),
    run('factory.showLog', async () => log.show()),
  ];
}

async function revealStages(): Promise<void> {
  await vscode.commands.executeCommand('factory.stages.focus');
}

async function askForChange(cockpit: Cockpit, prompter: Prompter, args: StartChangeArgs): Promise<StartChangeInput | undefined> {
  const title = args.title ?? (await prompter.input({ title: 'Start change (1/2)', prompt: 'What is the change? A short title', placeHolder: 'Add password reset', required: true }));
  if (!title?.trim()) return undefined;
  let description = args.description;
  let ticket = args.ticket;
  if (args.title === undefined) {
    const extra = await prompter.input({ title: 'Start change (2/2)', prompt: 'Ticket id or description (optional; press Enter to skip)', placeHolder: 'APP-42 or a sentence' });
    if (extra === undefined) return undefined;
    ({ ticket = ticket, description = description } = cockpit.factory.parseTicketOrDescription(extra));
  }
  const branch = args.branch ?? (await chooseBranchMode(cockpit, prompter));
  if (!branch) return undefined;
  return { title, description, ticket, branchMode: branch };
}

async function chooseBranchMode(cockpit: Cockpit, prompter: Prompter): Promise<BranchMode | undefined> {
  if (!(await cockpit.factory.git.isRepository())) return 'none';
  const setting = cockpit.factory.defaultBranchMode();
  if (setting) return setting;
  const current = await cockpit.factory.git.currentBranch();
  return prompter.pick<BranchMode>({ title: 'Start change: branch', placeHolder: 'Where does the change live?' }, [
    ...(current ? [{ label: `Bind to the current branch`, description: current, value: 'bindCurrent' as const }] : []),
    { label: 'Create a new branch', description: 'factory/<change>', value: 'createBranch' },
    { label: 'No branch', description: 'the change is not bound to a branch', value: 'none' },
  ]);
}
