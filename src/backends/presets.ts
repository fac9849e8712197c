// How each agent CLI is called headless. Flags are from each tool's own --help and
// docs (see the parser headers for the output side); verified by running the real
// CLIs (Claude Code 2.1.197, Codex 0.169.0, Droid 0.225.2, Gemini CLI 0.61.0).
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BackendCapabilities } from '../core/agentEvents';
import type { CliBackendConfig, CliPreset, Invocation, InvocationInput } from './cliBackend';
import type { McpServerSpec } from './types';
import { createClaudeCodeParser } from './parsers/claudeCode';
import { createCodexParser } from './parsers/codex';
import { createDroidParser } from './parsers/droid';
import { createGeminiParser } from './parsers/gemini';
import { createPlainTextParser } from './parsers/plainText';

const FULL: BackendCapabilities = {
  streamsText: true,
  reasoning: true,
  toolCalls: true,
  fileEdits: true,
  commands: true,
  tokenUsage: true,
  cost: 'estimate',
  turns: true,
  sessionResume: true,
  canEditFiles: true,
  canRunTools: true,
};
const PLAIN: BackendCapabilities = {
  streamsText: true,
  reasoning: false,
  toolCalls: false,
  fileEdits: false,
  commands: false,
  tokenUsage: false,
  cost: 'none',
  turns: false,
  sessionResume: false,
  canEditFiles: true,
  canRunTools: true,
};

const extra = (config: CliBackendConfig) => [...(config.extraArgs ?? [])];

export const claudeCodePreset: CliPreset = {
  id: 'claude-code',
  displayName: 'Claude Code',
  executable: 'claude',
  installHint: 'npm install -g @anthropic-ai/claude-code',
  capabilities: { ...FULL, cost: 'agent' },
  passesMcpServer: true,
  createParser: createClaudeCodeParser,
  buildInvocation: ({ attempt, config, model, prompt, promptFile }) => ({
    args: [
      '-p',
      '--output-format', 'stream-json',
      '--verbose',
      '--include-partial-messages',
      '--permission-mode', config.permissionMode ?? 'acceptEdits',
      ...(config.allowedTools?.length ? ['--allowedTools', config.allowedTools.join(',')] : []),
      ...(model ? ['--model', model] : []),
      ...(attempt.budget?.turns ? ['--max-turns', String(attempt.budget.turns)] : []),
      ...(attempt.resumeSessionId ? ['--resume', attempt.resumeSessionId] : []),
      ...claudeMcpArgs(attempt, config, promptFile),
      ...extra(config),
    ],
    // On stdin: no argv length limit, and the prompt stays out of `ps`.
    stdin: prompt,
  }),
};

export const codexPreset: CliPreset = {
  id: 'codex',
  displayName: 'Codex',
  executable: 'codex',
  installHint: 'npm install -g @openai/codex',
  capabilities: FULL,
  passesMcpServer: true,
  createParser: createCodexParser,
  buildInvocation: ({ attempt, config, model, prompt }) => ({
    args: [
      'exec',
      '--json',
      '--sandbox', config.sandbox ?? 'workspace-write',
      ...(model ? ['--model', model] : []),
      '--cd', attempt.cwd,
      ...codexMcpArgs(attempt, config),
      ...extra(config),
      ...(attempt.resumeSessionId ? ['resume', attempt.resumeSessionId] : []),
      // `-`: read the prompt from stdin.
      '-',
    ],
    stdin: prompt,
  }),
};

export const droidPreset: CliPreset = {
  id: 'droid',
  displayName: 'Factory Droid',
  executable: 'droid',
  installHint: 'npm install -g @factory/cli',
  capabilities: { ...FULL, reasoning: false },
  passesMcpServer: true,
  createParser: createDroidParser,
  buildInvocation: ({ attempt, config, model, promptFile }) => ({
    args: [
      'exec',
      '--output-format', 'stream-json',
      // Without --auto droid exec is read-only and cannot edit files.
      '--auto', config.autonomy ?? 'low',
      ...(model ? ['--model', model] : []),
      '--cwd', attempt.cwd,
      ...(attempt.resumeSessionId ? ['--session-id', attempt.resumeSessionId] : []),
      ...droidMcpArgs(attempt, config, promptFile),
      ...extra(config),
      '--file', promptFile,
    ],
  }),
};

export const geminiPreset: CliPreset = {
  id: 'gemini',
  displayName: 'Gemini CLI',
  executable: 'gemini',
  installHint: 'npm install -g @google/gemini-cli',
  capabilities: { ...FULL, reasoning: false },
  passesMcpServer: true,
  createParser: createGeminiParser,
  buildInvocation: ({ attempt, config, model, prompt, promptFile }) => {
    const mcp = geminiMcpInvocation(attempt, config, promptFile);
    return {
      args: [
        '--output-format', 'stream-json',
        '--approval-mode', config.approvalMode ?? 'yolo',
        // The cockpit only runs agents in a workspace VS Code already trusts.
        '--skip-trust',
        ...(model ? ['--model', model] : []),
        ...(attempt.resumeSessionId ? ['--resume', attempt.resumeSessionId] : []),
        ...mcp.args,
        ...extra(config),
      ],
      // On stdin, not `--prompt <text>`: Gemini CLI 0.61.0 (yargs) reads a prompt that starts
      // with `-` as its own flag (`--prompt --version` prints the version and exits 0,
      // `--prompt '--help me'` fails "Not enough arguments following: prompt"), and one
      // argument is capped at 128 KiB on Linux (spawn E2BIG), which a context pack can pass.
      // Headless with stdin not a terminal, it takes stdin as the prompt byte for byte
      // (verified with 0.61.0 against a local mock; it reads up to 8 MiB).
      stdin: prompt,
      ...(mcp.env ? { env: mcp.env } : {}),
      ...(mcp.warning ? { warning: mcp.warning } : {}),
    };
  },
};

/** Replaces `{prompt}`, `{promptFile}`, `{contextFile}`, `{model}`, `{cwd}` inside each argument (never splits or joins arguments). */
export function expandTemplate(template: readonly string[], input: InvocationInput): string[] {
  const values: Record<string, string> = {
    prompt: input.prompt,
    promptFile: input.promptFile,
    contextFile: input.contextFile,
    model: input.model ?? '',
    cwd: input.attempt.cwd,
  };
  return template.map((arg) => arg.replace(/\{(prompt|promptFile|contextFile|model|cwd)\}/g, (_, key: string) => values[key] ?? ''));
}

export const aiderPreset: CliPreset = {
  id: 'aider',
  displayName: 'Aider',
  executable: 'aider',
  installHint: 'python -m pip install aider-install && aider-install',
  capabilities: PLAIN,
  plainText: true,
  createParser: createPlainTextParser,
  buildInvocation: (input): Invocation => {
    const { config, model } = input;
    const template = config.argv?.length
      ? config.argv.slice(1)
      : ['--message-file', '{promptFile}', '--yes-always', '--no-pretty', '--no-auto-commits', ...(model ? ['--model', '{model}'] : [])];
    return { args: [...expandTemplate(template, input), ...extra(config)] };
  },
};

export const commandPreset: CliPreset = {
  id: 'command',
  displayName: 'Command',
  executable: '',
  installHint: 'set the command and its arguments',
  capabilities: PLAIN,
  plainText: true,
  createParser: createPlainTextParser,
  // A stage's own argv (owner.args in pipeline.json) wins over the setting.
  buildInvocation: (input): Invocation => ({ args: [...expandTemplate((input.attempt.args?.length ? input.attempt.args : input.config.argv)?.slice(1) ?? [], input), ...extra(input.config)] }),
};

export const CLI_PRESETS: readonly CliPreset[] = [claudeCodePreset, codexPreset, droidPreset, geminiPreset, aiderPreset, commandPreset];

/**
 * Claude Code takes the factory's MCP server per run (#18): `--mcp-config` names a file in
 * the attempt's own temporary folder (beside the prompt file, removed with it) and
 * `--strict-mcp-config` keeps the user's own servers out; its tools are allowed
 * (`mcp__<name>`), since in `-p` mode a tool not allowed is silently denied. The user's
 * configuration is never edited. Off with `factory.backends.claude-code.mcp: false`.
 */
/** The factory's MCP server for this run, unless the backend's `mcp` setting is off (#18). */
function mcpServerOf(attempt: InvocationInput['attempt'], config: CliBackendConfig): McpServerSpec | undefined {
  return config.mcp === false ? undefined : attempt.mcpServer;
}

export function claudeMcpArgs(attempt: InvocationInput['attempt'], config: CliBackendConfig, promptFile: string): string[] {
  const server = mcpServerOf(attempt, config);
  if (!server) return [];
  const file = join(dirname(promptFile), 'mcp.json');
  writeFileSync(file, JSON.stringify({ mcpServers: { [server.name]: { type: 'stdio', command: server.command, args: server.args, env: server.env ?? {} } } }), { mode: 0o600 });
  // A second --allowedTools adds to the first (a variadic option in Claude Code's CLI).
  return ['--mcp-config', file, '--strict-mcp-config', '--allowedTools', `mcp__${server.name}`];
}

/**
 * Codex takes the factory's MCP server per run as `-c mcp_servers.<name>.…` overrides (TOML
 * values; JSON strings and arrays are valid TOML), verified with Codex 0.169.0
 * (AGENT-CLIS.md). `exec` never asks for approval, so a tool without `readOnlyHint` would
 * fail with "requires approval": the server's tools are approved for this run. Off with
 * `factory.backends.codex.mcp: false` (#18).
 * Codex 0.169.0 says nothing when a server does not start (exit 0, nothing on stdout or
 * stderr, verified with a server that exits at once): the attempt records its status as
 * unknown. `required = true` would make it loud, but would fail the whole run, which the
 * other agents do not; so it is not set.
 */
export function codexMcpArgs(attempt: InvocationInput['attempt'], config: CliBackendConfig): string[] {
  const server = mcpServerOf(attempt, config);
  if (!server || !/^[A-Za-z0-9_-]+$/.test(server.name)) return [];
  const key = `mcp_servers.${server.name}`;
  const env = Object.entries(server.env ?? {});
  return [
    '-c', `${key}.command=${JSON.stringify(server.command)}`,
    '-c', `${key}.args=${JSON.stringify(server.args)}`,
    ...(env.length ? ['-c', `${key}.env={${env.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(',')}}`] : []),
    '-c', `${key}.default_tools_approval_mode="approve"`,
  ];
}

/**
 * Factory Droid takes the factory's MCP server per run through `droid exec --settings
 * <file>`, a "runtime settings file merged for this process only": the file, in the
 * attempt's own temporary folder, holds `{"mcp":{"mcpServers":{…}}}` (the key Droid
 * reads its servers from; verified with Droid 0.225.2 against the mock model: the
 * server is started, and at `--auto low` the model's call of `factory___get_context`, a
 * read-only tool, runs and returns its result). The user's ~/.factory is never edited,
 * and their own servers and settings still apply. Droid's stream does not report its MCP
 * servers' status. Off with `factory.backends.droid.mcp: false`.
 */
export function droidMcpArgs(attempt: InvocationInput['attempt'], config: CliBackendConfig, promptFile: string): string[] {
  const server = mcpServerOf(attempt, config);
  if (!server) return [];
  const file = join(dirname(promptFile), 'droid-settings.json');
  writeFileSync(file, JSON.stringify({ mcp: { mcpServers: { [server.name]: { type: 'stdio', command: server.command, args: server.args, env: server.env ?? {} } } } }), { mode: 0o600 });
  return ['--settings', file];
}

/**
 * Gemini CLI reads its MCP servers from settings.json only, and has no flag for a
 * settings file: the system settings paths it takes from the environment are refused
 * unless root owns every folder above them (0.61.0). So the run gets its own Gemini home
 * (`GEMINI_CLI_HOME`, "the root directory for Gemini CLI's user-level configuration")
 * in the attempt's temporary folder: its `.gemini/settings.json` is the user's settings
 * as they are plus the factory's server (trusted: a headless run cannot confirm a tool
 * call), and every other entry of the user's `~/.gemini` (credentials, sessions,
 * history) is a symlink to the real one, so sign-in and `--resume` work as usual.
 * `--allowed-mcp-server-names` keeps the user's own servers out of the run, as
 * `--strict-mcp-config` does for Claude Code. The user's files are only read; when their
 * settings cannot be read, the run goes without the server and says why.
 * Verified with Gemini CLI 0.61.0 against the mock model. Off with
 * `factory.backends.gemini.mcp: false`.
 */
export function geminiMcpInvocation(attempt: InvocationInput['attempt'], config: CliBackendConfig, promptFile: string): { args: string[]; env?: Record<string, string>; warning?: string } {
  const server = mcpServerOf(attempt, config);
  if (!server) return { args: [] };
  const userDir = join(attempt.env.GEMINI_CLI_HOME || attempt.env.HOME || homedir(), '.gemini');
  const userSettingsFile = join(userDir, 'settings.json');
  let settings: Record<string, unknown> = {};
  try {
    if (existsSync(userSettingsFile)) {
      const parsed: unknown = JSON.parse(stripJsonComments(readFileSync(userSettingsFile, 'utf8')));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('it is not a JSON object');
      settings = parsed as Record<string, unknown>;
    }
  } catch (error) {
    return { args: [], warning: `The factory's MCP server was not passed to Gemini CLI for this run: ${userSettingsFile} cannot be read (${error instanceof Error ? error.message : String(error)}).` };
  }
  const runHome = join(dirname(promptFile), 'gemini-home');
  const runDir = join(runHome, '.gemini');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  for (const entry of existsSync(userDir) ? readdirSync(userDir) : []) {
    if (entry !== 'settings.json') symlinkSync(join(userDir, entry), join(runDir, entry));
  }
  const servers = settings.mcpServers && typeof settings.mcpServers === 'object' ? (settings.mcpServers as Record<string, unknown>) : {};
  const ours = { command: server.command, args: server.args, ...(server.env ? { env: server.env } : {}), trust: true };
  writeFileSync(join(runDir, 'settings.json'), JSON.stringify({ ...settings, mcpServers: { ...servers, [server.name]: ours } }, null, 2), { mode: 0o600 });
  return { args: ['--allowed-mcp-server-names', server.name], env: { GEMINI_CLI_HOME: runHome } };
}

/** Gemini CLI's settings.json may hold line and block comments (it strips them before parsing). */
export function stripJsonComments(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (match, quoted: string | undefined) => quoted ?? '');
}
