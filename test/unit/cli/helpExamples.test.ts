// The examples `--help` shows are what a newcomer types first: every command and
// command group shows at least one, a change id in an example has the shape the
// product gives ids, and the jq path in `status`'s example exists in the documented
// `status --json` shape (src/cli/schemas.ts).
import * as assert from 'node:assert/strict';
import * as commander from 'commander';
import type { Command } from 'commander';
import type { z } from 'zod';
import { buildProgram } from '../../../src/cli/main';
import { StatusOutputSchema } from '../../../src/cli/schemas';
import { isChangeId } from '../../../src/core/events';

/** What `factory-cockpit <path> --help` prints on stdout. */
async function helpOf(path: string[]): Promise<string> {
  const program = buildProgram(commander);
  let out = '';
  const capture = (command: Command) => {
    command.configureOutput({ writeOut: (s) => (out += s), writeErr: () => undefined });
    command.commands.forEach(capture);
  };
  capture(program);
  await program.parseAsync([...path, '--help'], { from: 'user' }).catch(() => undefined);
  return out;
}

/** Every command path of the program: groups, their subcommands and top-level commands (not commander's own `help`). */
function commandPaths(command: Command, prefix: string[] = []): { path: string[]; command: Command }[] {
  return command.commands
    .filter((sub) => sub.name() !== 'help')
    .flatMap((sub) => [{ path: [...prefix, sub.name()], command: sub }, ...commandPaths(sub, [...prefix, sub.name()])]);
}

function examplesIn(help: string): string[] {
  const section = /Examples?:\n((?:\s+\$ .*\n?)+)/.exec(help);
  return section ? section[1]!.split('\n').map((l) => l.trim().replace(/^\$ /, '')).filter(Boolean) : [];
}

/** Follows a jq path such as `.change.stages[]` through a zod object schema; undefined where a key does not exist. */
function schemaAt(schema: z.ZodType, jqPath: string): z.ZodType | undefined {
  let at: z.ZodType | undefined = schema;
  for (const step of jqPath.split('.').filter(Boolean)) {
    const [, key, iterate] = /^(\w+)(\[\])?$/.exec(step) ?? [];
    if (!key || !at) return undefined;
    const object = unwrap(at) as unknown as { shape?: Record<string, z.ZodType> };
    at = object.shape?.[key];
    if (at && iterate) at = (unwrap(at) as unknown as { element?: z.ZodType }).element;
  }
  return at && unwrap(at);
}

/** The schema inside `.optional()`, `.nullable()` or `.default()` (an array's `unwrap` is its element: not that). */
function unwrap(schema: z.ZodType): z.ZodType {
  let at = schema;
  while (['optional', 'nullable', 'default'].includes(at.def.type)) at = (at as unknown as { unwrap: () => z.ZodType }).unwrap();
  return at;
}

describe('cli: the examples --help shows', () => {
  const program = buildProgram(commander);

  it('every command and command group, and the program itself, shows an example', async () => {
    assert.ok(examplesIn(await helpOf([])).length > 0, 'factory-cockpit --help');
    for (const { path } of commandPaths(program)) {
      const examples = examplesIn(await helpOf(path));
      assert.ok(examples.length > 0, `factory-cockpit ${path.join(' ')} --help shows no example`);
    }
  });

  it('a change id in an example has the shape of a change id', async () => {
    let checked = 0;
    for (const { path, command } of commandPaths(program)) {
      const idArgument = command.registeredArguments.findIndex((a) => a.name() === 'id' || a.name() === 'change');
      if (idArgument < 0) continue;
      for (const example of examplesIn(await helpOf(path))) {
        const words = example.split(/\s+/);
        const after = words.slice(words.indexOf(path.at(-1)!) + 1).filter((w) => !w.startsWith('-'));
        assert.ok(isChangeId(after[idArgument]), `${example}: "${after[idArgument]}" is not a change id`);
        checked++;
      }
    }
    assert.ok(checked >= 2);
  });

  it("status's jq example reads a path that status --json has", async () => {
    const jq = examplesIn(await helpOf(['status'])).map((e) => /jq "([^"|]+)\|\s*\{([^}]*)\}"/.exec(e)).find(Boolean);
    assert.ok(jq, 'status --help has a jq example');
    const element = schemaAt(StatusOutputSchema, jq[1]!.trim()) as unknown as { shape?: Record<string, unknown> } | undefined;
    assert.ok(element?.shape, `${jq[1]} is not a path of status --json`);
    for (const key of jq[2]!.split(',').map((k) => k.trim())) assert.ok(key in element.shape, `${jq[1]} has no ${key}`);
  });

  it("verify's help says what a stage that waits only for a person's approval exits with (0, as it does)", async () => {
    const help = (await helpOf(['verify'])).replace(/\s+/g, ' ');
    assert.match(help, /exits 1 when a required criterion did not pass \(0 when it passed, or waits only for a person's approval\)/);
  });
});
