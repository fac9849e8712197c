// `factory-cockpit`: the factory headless, on the same engine the editor uses
// (engine/factory.ts), for terminals, scripts and CI. This file only declares the
// commands (commander) and loads what a command needs when it runs: `--version` and
// `--help` load nothing of the engine, so they start about as fast as Node itself.
//
// Exit codes: 0 ok; 1 a verdict or a run that did not pass, or an action the rules
// refuse; 2 a usage error (an unknown option, a missing argument, a question that
// cannot be asked without a terminal); 3 a record or environment error (not a git
// repository, an untrusted folder, pipeline.json invalid or set aside).
import type { Command } from 'commander';
import { EXIT, userConfigPath } from './paths';

type Commander = typeof import('commander');

declare const __FACTORY_COCKPIT_VERSION__: string;
const VERSION = typeof __FACTORY_COCKPIT_VERSION__ === 'string' ? __FACTORY_COCKPIT_VERSION__ : '0.0.0-dev';

type Commands = typeof import('./commands');
type Handler = (commands: Commands, args: unknown[], command: Command) => Promise<number>;

/** Runs a command's handler from the lazily loaded commands module and sets the exit code. */
function action(handler: Handler) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const commands = await import('./commands');
    process.exitCode = await commands.guard(() => handler(commands, args.slice(0, -2), command), command);
  };
}

function example(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/**
 * The program; `commander` is passed in because it is loaded only once `--version` alone is ruled out.
 * `firstWord`: the first argument of the run. When it names a top-level command, only that
 * command is built: a first argument that is not an option is the operand commander
 * dispatches on, and the program's own options are the same, so the parse, its errors and
 * the command's help are what the whole program gives, without building the two dozen
 * others. Anything else (an option first, `help`, an unknown word and its "did you
 * mean") gets every command.
 */
export function buildProgram({ Command, InvalidArgumentError, Option }: Commander, firstWord?: string): Command {
  const parseInteger = (flag: string) => (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number.`);
    return n;
  };
  const program = new Command('factory-cockpit');
  program
    .description('Factory Cockpit headless: run a change through its stages, verify, hand off and read the record in .factory/.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--json', 'print the result as JSON on stdout (shapes: src/cli/schemas.ts)')
    .option('-C, --root <dir>', 'the workspace folder (default: the nearest folder with .factory/ up to the git top level, else the top level)')
    .option('--untrusted', 'treat the folder as untrusted: read the record only, run no git, agent or command (also FACTORY_COCKPIT_UNTRUSTED=1)')
    .option('--config <file>', `the user config file (default ${userConfigPath()}; also FACTORY_COCKPIT_CONFIG)`)
    .addOption(new Option('-s, --set <key=value>', 'a setting, e.g. factory.backends.claude-code.path=/opt/claude (repeatable; arrays as JSON)').argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ factory-cockpit init && factory-cockpit change start "Add password reset" --branch createBranch
  $ factory-cockpit run && factory-cockpit status

Settings are the editor's keys (factory.backends.<id>.<key>, factory.prices, factory.startChange.branch,
factory.verify.browserPath), read from --set flags, then environment variables (the key in capitals,
dots and dashes as underscores: FACTORY_BACKENDS_CLAUDE_CODE_PATH), then the user config file
${userConfigPath()} ({"settings": {"<key>": value}, "secrets": {"ANTHROPIC_API_KEY": "…"}}).
Never from files inside the repository: a cloned repository cannot choose which binary runs.
API keys come from the environment or the config file's "secrets"; they are never written to the record.

A terminal is the user acting, so the folder is trusted unless --untrusted or FACTORY_COCKPIT_UNTRUSTED=1.
Colour only on a terminal and never with NO_COLOR. Progress and live transcripts go to stderr.
Exit codes: 0 ok, 1 a verdict or run failed (or the rules refuse), 2 usage error, 3 record or environment error.`,
    );

  // Every top-level command by its name, in the order help lists them.
  const commands = new Map<string, () => void>([
    ['init', () => {
      example(program.command('init').description('create .factory/pipeline.json (the default pipeline) and .factory/.gitignore').action(action((c, _a, cmd) => c.init(cmd))), 'factory-cockpit init');
    }],
    ['status', () => {
      example(
        program
          .command('status')
          .description('the current change (or --change) and its stages, with what each allows now')
          .option('--change <id>', 'a change other than the current one')
          .action(action((c, _a, cmd) => c.status(cmd))),
        'factory-cockpit status',
        'factory-cockpit status --json | jq ".change.stages[] | {id, status}"',
      );
    }],
    ['change', () => {
      const change = example(program.command('change').description('start, list and switch changes'), 'factory-cockpit change start "Add password reset" --branch bindCurrent', 'factory-cockpit change list');
      example(
        change
          .command('start <title>')
          .description('start a change and make it current')
          .option('--ticket <ticket>', 'a ticket id, e.g. APP-42')
          .option('--description <text>', 'what the change is about')
          .addOption(new Option('--branch <mode>', 'where it lives: the checked-out branch, a new factory/<change> branch, or none (default: the setting factory.startChange.branch, else asked)').choices(['bindCurrent', 'createBranch', 'none']))
          .action(action((c, a, cmd) => c.changeStart(a[0] as string, cmd))),
        'factory-cockpit change start "Add password reset" --ticket APP-42 --branch createBranch',
      );
      example(change.command('list').description('every change, oldest first').action(action((c, _a, cmd) => c.changeList(cmd))), 'factory-cockpit change list --json');
      example(change.command('switch <id>').description('make another change current (for every surface: the editor follows)').action(action((c, a, cmd) => c.changeSwitch(a[0] as string, cmd))), 'factory-cockpit change switch add-password-reset-k3v9qz');
    }],
    ['context', () => {
      const context = example(program.command('context').description("the current change's context pack"), 'factory-cockpit context add src/auth.js docs/', 'factory-cockpit context render');
      example(context.command('add <path...>').description('add files or folders (relative to here) to the pack').action(action((c, a, cmd) => c.contextAdd(a[0] as string[], cmd))), 'factory-cockpit context add src/auth.js docs/');
      example(context.command('note <text>').description('add a note to the pack').action(action((c, a, cmd) => c.contextNote(a[0] as string, cmd))), 'factory-cockpit context note "Keep the API backwards compatible"');
      example(context.command('list').description("the pack's items and version").action(action((c, _a, cmd) => c.contextList(cmd))), 'factory-cockpit context list --json');
      example(
        context
          .command('render')
          .description('print the pack as an agent receives it')
          .option('--budget <tokens>', 'the most tokens (estimated) it may take', parseInteger('--budget'))
          .action(action((c, _a, cmd) => c.contextRender(cmd))),
        'factory-cockpit context render --budget 8000 > context.md',
      );
    }],
    ['run', () => {
      example(
        program
          .command('run [stage]')
          .description("run a stage of the current change (default: what runs next) with its owner's agent, streaming the transcript to stderr")
          .option('--backend <id>', "change the stage's owner to this backend first (recorded), e.g. codex")
          .option('--auto', 'go on to the next stages while their gates allow (autonomy "auto")')
          .option('--detach', 'start a detached runner that owns the attempt and ends by itself; prints its pid and returns')
          .option('--out-of-order', "run the stage although the one before it has not handed off")
          .addOption(new Option('--runner-child', 'internal: be the detached runner (reads its spec on stdin)').hideHelp())
          .action(action((c, a, cmd) => c.run(a[0] as string | undefined, cmd))),
        'factory-cockpit run',
        'factory-cockpit run implement --backend codex --auto',
        'factory-cockpit run --detach && factory-cockpit status',
      );
    }],
    ['stop', () => {
      example(program.command('stop').description("stop the current change's detached runner (its agent's whole process tree)").option('--change <id>', 'another change').action(action((c, _a, cmd) => c.stop(cmd))), 'factory-cockpit stop');
    }],
    ['retry', () => {
      example(
        program
          .command('retry [stage]')
          .description('run a failed, stopped or sent-back stage again with the failure fed back')
          .option('--detach', 'as a detached runner')
          .action(action((c, a, cmd) => c.retry(a[0] as string | undefined, cmd))),
        'factory-cockpit retry implement',
      );
    }],
    ['approve', () => {
      example(program.command('approve <stage>').description('approve a stage waiting for approval: it hands off').option('--note <text>', 'a note for the record').action(action((c, a, cmd) => c.approve(a[0] as string, cmd))), 'factory-cockpit approve plan --note "Good plan"');
    }],
    ['send-back', () => {
      example(
        program
          .command('send-back <stage>')
          .description('send the change back from a stage to it or an earlier stage, with a note for its next run')
          .option('--to <stage>', 'the stage that reopens (default: the same stage)')
          .option('--note <text>', 'what must change (required)')
          .action(action((c, a, cmd) => c.sendBack(a[0] as string, cmd))),
        'factory-cockpit send-back review --to implement --note "Handle expired tokens"',
      );
    }],
    ['done', () => {
      example(program.command('done <stage>').description("mark a stage done by hand (a person's work, or an override)").option('--note <text>', 'what was done: the handoff summary (required)').action(action((c, a, cmd) => c.done(a[0] as string, cmd))), 'factory-cockpit done review --note "Reviewed in the PR"');
    }],
    ['verify', () => {
      example(program.command('verify [stage]').description("run a stage's verification criteria (default: the active stage); exits 1 when a required criterion did not pass (0 when it passed, or waits only for a person's approval)").action(action((c, a, cmd) => c.verify(a[0] as string | undefined, cmd))), 'factory-cockpit verify test');
    }],
    ['review', () => {
      const review = example(program.command('review').description("a change's review, as the editor's review panel shows it"), 'factory-cockpit review export add-password-reset-k3v9qz > review.md');
      example(
        review
          .command('export <change>')
          .description('the review as Markdown (for a pull request) or one self-contained HTML file (timeline, decisions, comments, evidence hashes re-checked, screenshots embedded); stdout unless --output')
          .option('--format <format>', 'md or html', 'md')
          .option('-o, --output <file>', 'write it to this file')
          .option('--ref <ref>', "read the change from this branch's record through git objects (e.g. refs/remotes/origin/feature)")
          .action(action((c, a, cmd) => c.reviewExport(a[0] as string, cmd))),
        'factory-cockpit review export harden-login-7m2x4p --format html -o review.html',
      );
    }],
    ['evidence', () => {
      const evidence = example(program.command('evidence').description('evidence of the record'), 'factory-cockpit evidence verify --all');
      example(evidence.command('verify').description('re-hash stored evidence; exits 1 on a mismatch').option('--change <id>', 'only what this change refers to').option('--all', 'every evidence file of the record').action(action((c, _a, cmd) => c.evidenceVerify(cmd))), 'factory-cockpit evidence verify --all');
    }],
    ['metrics', () => {
      example(
        program
          .command('metrics')
          .description("the lead's flow metrics from every branch's record: the signal, first-pass rate per stage and owner, flow (as the Flow Dashboard)")
          .option('--since <when>', 'only this period: a date (2026-11-01) or a span back from now (14d, 8w)')
          .option('--format <format>', 'table, json or csv (csv: per stage and owner)', 'table')
          .option('--stuck-days <n>', 'changes with no event for this many days are stuck (default 3)')
          .action(action((c, _a, cmd) => c.metrics(cmd))),
        'factory-cockpit metrics --since 8w',
        'factory-cockpit metrics --format csv > stages.csv',
      );
    }],
    ['backends', () => {
      example(program.command('backends').description('the agent CLIs: installed or not, version, path, what each reports').action(action((c, _a, cmd) => c.backends(cmd))), 'factory-cockpit backends --json');
    }],
    ['mcp', () => {
      example(
        program
          .command('mcp')
          .description("serve the factory to an agent as an MCP server over stdio (tools: the change, its context pack, the handoff, criteria, verification, notes)")
          .option('--change <id>', 'bind it to this change (default: the current change at each call)')
          .option('--attempt <id>', 'bind it to this running attempt: what the agent records names it')
          .option('--agent <name>', 'the actor of what the agent records (default: the name the client reports)')
          .action(action((c, _a, cmd) => c.mcp(cmd))),
        'claude mcp add factory -- factory-cockpit mcp',
      );
    }],
    ['doctor', () => {
      example(program.command('doctor').description('backends, record health, quarantined files, runners and their log; exits 3 when the record needs attention').action(action((c, _a, cmd) => c.doctor(cmd))), 'factory-cockpit doctor');
    }],
  ]);
  const named = firstWord === undefined ? undefined : commands.get(firstWord);
  if (named) named();
  else for (const define of commands.values()) define();
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  // The one answer that needs nothing at all (scripts call it to check the CLI is there):
  // not even commander is evaluated for it.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const commander = await import('commander');
  const { CommanderError } = commander;
  const program = buildProgram(commander, argv[0]);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      if (error.code === 'commander.executeSubCommandAsync') return EXIT.failed;
      // Every other commander error is a usage error (it has printed it already).
      return EXIT.usage;
    }
    process.stderr.write(`factory-cockpit: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.environment;
  }
}

// A bundled entry (dist/cli.js) runs main; tests import buildProgram.
if (require.main === module) {
  // `factory-cockpit … | head`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
