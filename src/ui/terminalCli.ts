// Puts `factory-cockpit` on the integrated terminal's PATH: a small launcher in the
// extension's global storage that runs this installation's dist/cli.js with the Node
// the extension host runs on (ELECTRON_RUN_AS_NODE=1 on desktop), so a user needs no
// Node or npm install of their own. The launcher is rewritten on every activation, so
// after an update it points at the new installation.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';

export async function putCliOnTerminalPath(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<string | undefined> {
  if (context.globalStorageUri.scheme !== 'file') return undefined;
  const bin = path.join(context.globalStorageUri.fsPath, 'bin');
  const cli = context.asAbsolutePath(path.join('dist', 'cli.js'));
  try {
    await mkdir(bin, { recursive: true });
    if (process.platform === 'win32') {
      await writeFile(path.join(bin, 'factory-cockpit.cmd'), `@echo off\r\nset ELECTRON_RUN_AS_NODE=1\r\n"${process.execPath}" "${cli}" %*\r\n`);
    } else {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const file = path.join(bin, 'factory-cockpit');
      await writeFile(file, `#!/bin/sh\n# Factory Cockpit's CLI, from the installed extension (${context.extension.packageJSON.version as string}).\nELECTRON_RUN_AS_NODE=1 exec ${quote(process.execPath)} ${quote(cli)} "$@"\n`);
      await chmod(file, 0o755);
    }
    context.environmentVariableCollection.description = 'Puts the factory-cockpit command on PATH';
    context.environmentVariableCollection.prepend('PATH', `${bin}${path.delimiter}`);
    return bin;
  } catch (error) {
    log.warn(`Could not put factory-cockpit on the terminal's PATH: ${String(error)}`);
    return undefined;
  }
}
