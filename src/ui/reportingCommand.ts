// Every Factory command reports its failure the same way: the stack in the log, the
// message in an error notification with a way to the log, and `undefined` as result.
import * as vscode from 'vscode';
import { notify } from './surface';

export type CommandRegistrar = <A extends unknown[]>(name: string, fn: (...args: A) => Promise<unknown>) => vscode.Disposable;

/** A registrar of commands whose errors are logged and shown; `describe` words the shown message. */
export function reportingCommands(log: vscode.LogOutputChannel, describe: (error: unknown) => string = (error) => (error instanceof Error ? error.message : String(error))): CommandRegistrar {
  return (name, fn) =>
    vscode.commands.registerCommand(name, async (...args: Parameters<typeof fn>) => {
      try {
        return await fn(...args);
      } catch (error) {
        const message = describe(error);
        log.error(`${name}: ${error instanceof Error ? (error.stack ?? message) : message}`);
        void notify.error(`Factory: ${message}`, 'Show Log').then((choice) => choice && log.show());
        return undefined;
      }
    });
}
