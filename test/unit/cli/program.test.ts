// A run builds only the top-level command its first word names (main.ts, buildProgram):
// that command, its subcommands, their help and the program's own options must be what
// the whole program has, and a parse must fail or print help alike; any other first
// word gets every command (the root help, `help <command>`, "did you mean").
import * as assert from 'node:assert/strict';
import * as commander from 'commander';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main';

/** Every help text of a command and its subcommands, keyed by the command path. */
function helpTree(command: Command, prefix = ''): Record<string, string> {
  const name = `${prefix}${command.name()}`;
  command.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  return Object.assign({ [name]: command.helpInformation() }, ...command.commands.map((sub) => helpTree(sub, `${name} `)));
}

/** What a parse of `argv` prints and how it ends, with no command run (every argv here is refused or asks for help). */
async function parseOutcome(program: Command, argv: string[]): Promise<{ out: string; err: string; code: string }> {
  let out = '';
  let err = '';
  const capture = (command: Command) => {
    command.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
    command.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { out, err, code: 'parsed' };
  } catch (error) {
    return { out, err, code: (error as commander.CommanderError).code };
  }
}

describe('cli: the program for a run', () => {
  const whole = buildProgram(commander);
  const names = whole.commands.map((c) => c.name());

  it('builds only the command the first word names, as the whole program has it', () => {
    assert.ok(names.length > 15);
    const wholeHelp = helpTree(whole);
    for (const name of names) {
      const program = buildProgram(commander, name);
      assert.deepEqual(
        program.commands.map((c) => c.name()),
        [name],
      );
      assert.deepEqual(
        program.options.map((o) => o.flags),
        whole.options.map((o) => o.flags),
      );
      const [only] = program.commands;
      assert.ok(only);
      const help = helpTree(only, 'factory-cockpit ');
      for (const [path, text] of Object.entries(help)) assert.equal(text, wholeHelp[path], path);
      assert.deepEqual(Object.keys(help), Object.keys(wholeHelp).filter((path) => path === `factory-cockpit ${name}` || path.startsWith(`factory-cockpit ${name} `)));
    }
  });

  it('builds every command for an option first, help, or a word that names none', () => {
    for (const first of [undefined, '--json', '-C', 'help', 'stat', 'constructor', '']) {
      assert.deepEqual(
        buildProgram(commander, first).commands.map((c) => c.name()),
        names,
        String(first),
      );
    }
  });

  it('refuses and helps alike with one command built or all', async () => {
    const runs = [['status', '--no-such'], ['status', 'extra'], ['status', '--help'], ['change', 'bogus'], ['change', 'start', '--help'], ['change', 'start'], ['send-back'], ['context', 'render', '--budget', 'x'], ['metrics', '--help']];
    for (const argv of runs) {
      const one = await parseOutcome(buildProgram(commander, argv[0]), argv);
      assert.notEqual(one.code, 'parsed', argv.join(' '));
      assert.deepEqual(one, await parseOutcome(buildProgram(commander), argv), argv.join(' '));
    }
  });
});
