// The one table of agent backends: each entry says how to build the backend, how its
// recorded transcript is read back, which settings configure it (the manifest's
// `factory.backends.<id>.*` is generated from here: `npm run manifest`), which secret
// it reads, how many tokens of context it takes by default, and how it is offered as
// a stage owner. Adding a backend is one entry here plus its parser.
import type { BackendCapabilities } from '../core/agentEvents';
import { AcpBackend, type AcpBackendConfig } from './acp';
import { acpReplayParser } from './acpReplay';
import { CliBackend, type CliBackendConfig, type CliPreset } from './cliBackend';
import { HumanBackend } from './human';
import type { LineParser } from './parsers/common';
import { aiderPreset, claudeCodePreset, codexPreset, commandPreset, droidPreset, geminiPreset } from './presets';
import type { AgentBackend } from './types';
import { VscodeLmBackend, type LanguageModelPort, type VscodeLmConfig } from './vscodeLm';

/** A setting as the manifest declares it (`contributes.configuration.properties`). */
export type SettingSpec = Readonly<Record<string, unknown>> & { type: string; default?: unknown };

export interface BuildDeps {
  prices?: import('./types').PriceTable;
  killGraceMs?: number;
  languageModels?: LanguageModelPort;
}

export interface BackendEntry {
  id: string;
  displayName: string;
  /** How it is offered when a person changes a stage's owner. */
  ownerLabel: string;
  /** Settings under `factory.backends.<id>.`, as the manifest declares them. */
  settings: Readonly<Record<string, SettingSpec>>;
  /** The environment variable holding its API key, kept in SecretStorage by the editor. */
  secret?: string;
  /**
   * Input tokens it takes when the pipeline gives the stage no `budget.tokens`: the
   * context window of the model it runs by default, less room for the reply where the
   * vendor says so. The context gauge measures the pack against it.
   */
  contextTokens: number;
  /** Runs in the editor's own process (vscode.lm): cannot be handed to a detached runner. */
  inEditor?: boolean;
  capabilities(): BackendCapabilities;
  /** A fresh parser for this backend's recorded stdout (transcript replay); plain text when absent. */
  replayParser?(cwd: string): LineParser;
  create(config: Record<string, unknown> | undefined, deps: BuildDeps): AgentBackend;
}

/** For a backend whose model is unknown here (and for ids the table does not know). */
export const FALLBACK_CONTEXT_TOKENS = 128_000;

const cli = (preset: CliPreset, entry: Omit<BackendEntry, 'id' | 'displayName' | 'capabilities' | 'replayParser' | 'create'>): BackendEntry => ({
  id: preset.id,
  displayName: preset.displayName,
  capabilities: () => preset.capabilities,
  replayParser: (cwd) => preset.createParser({ cwd }),
  create: (config, deps) => new CliBackend(preset, config as CliBackendConfig | undefined, deps),
  ...entry,
});

export const BACKENDS: readonly BackendEntry[] = [
  cli(claudeCodePreset, {
    ownerLabel: 'Claude Code',
    secret: 'ANTHROPIC_API_KEY',
    contextTokens: 200_000, // Claude Sonnet/Opus context window
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "markdownDescription": "Claude Code executable (name on PATH or full path); empty = `claude`. Install: `npm install -g @anthropic-ai/claude-code`."},
      "model": {"type": "string", "default": "", "markdownDescription": "Model for `--model`, e.g. `claude-sonnet-4-5`. Empty: Claude Code's default."},
      "permissionMode": {"type": "string", "enum": ["acceptEdits", "bypassPermissions", "default", "plan"], "default": "acceptEdits", "description": "--permission-mode (bypassPermissions is refused when running as root)."},
      "allowedTools": {"type": "array", "items": {"type": "string"}, "default": [], "description": "--allowedTools, e.g. [\"Read\",\"Write\",\"Edit\",\"Bash\"]."},
      "mcp": {"type": "boolean", "default": true, "markdownDescription": "Pass the factory's MCP server to each run (`--mcp-config` with a file of the run's own, `--strict-mcp-config`; tools `mcp__factory__*` allowed), bound to the change and the attempt. Your own Claude Code configuration is never edited."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": []},
    },
  }),
  cli(codexPreset, {
    ownerLabel: 'Codex',
    secret: 'OPENAI_API_KEY',
    contextTokens: 272_000, // GPT-5-Codex: 400k window, of which 272k input
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "markdownDescription": "Codex executable; empty = `codex`. Install: `npm install -g @openai/codex`."},
      "model": {"type": "string", "default": "", "description": "--model, e.g. gpt-5-codex. Empty: Codex's default."},
      "sandbox": {"type": "string", "enum": ["read-only", "workspace-write", "danger-full-access"], "default": "workspace-write"},
      "mcp": {"type": "boolean", "default": true, "markdownDescription": "Pass the factory's MCP server to each run (`-c mcp_servers.factory.…` for that run only, its tools approved), bound to the change and the attempt. Your own Codex configuration is never edited."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": [], "description": "e.g. [\"--skip-git-repo-check\"] or [\"-c\",\"model_provider=…\"]."},
    },
  }),
  cli(droidPreset, {
    ownerLabel: 'Factory Droid',
    secret: 'FACTORY_API_KEY',
    contextTokens: 200_000, // Droid runs Claude models by default
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "markdownDescription": "Factory Droid executable; empty = `droid`. Install: `npm install -g @factory/cli`."},
      "model": {"type": "string", "default": "", "description": "--model, e.g. claude-sonnet-4-5 or custom:<your model>."},
      "autonomy": {"type": "string", "enum": ["low", "medium", "high"], "default": "low", "description": "--auto level (without it droid exec cannot edit files)."},
      "mcp": {"type": "boolean", "default": true, "markdownDescription": "Pass the factory's MCP server to each run (`droid exec --settings` with a runtime settings file of the run's own), bound to the change and the attempt. Your own `~/.factory` configuration is never edited."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": []},
    },
  }),
  cli(geminiPreset, {
    ownerLabel: 'Gemini CLI',
    secret: 'GEMINI_API_KEY',
    contextTokens: 1_000_000, // Gemini 2.5 Pro: 1M window
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "markdownDescription": "Gemini CLI executable; empty = `gemini`. Install: `npm install -g @google/gemini-cli`."},
      "model": {"type": "string", "default": "", "description": "--model, e.g. gemini-2.5-pro. Empty: Gemini CLI's default (auto)."},
      "approvalMode": {"type": "string", "enum": ["default", "auto_edit", "yolo", "plan"], "default": "yolo", "description": "--approval-mode; headless runs cannot answer prompts."},
      "mcp": {"type": "boolean", "default": true, "markdownDescription": "Pass the factory's MCP server to each run, bound to the change and the attempt: the run gets its own Gemini home (`GEMINI_CLI_HOME` in a temporary folder) whose `settings.json` is yours plus the factory's server, everything else linked to your `~/.gemini`; `--allowed-mcp-server-names factory`. Your own `~/.gemini` is never edited."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": []},
    },
  }),
  cli(aiderPreset, {
    ownerLabel: 'Aider',
    contextTokens: 128_000, // depends on the model aider is given; a common floor
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "markdownDescription": "Aider executable; empty = `aider`. Install: `python -m pip install aider-install && aider-install`."},
      "model": {"type": "string", "default": ""},
      "argv": {"type": "array", "items": {"type": "string"}, "default": [], "scope": "machine-overridable", "markdownDescription": "Optional full argv template (first item = executable). Placeholders: `{prompt}`, `{promptFile}`, `{contextFile}`, `{model}`, `{cwd}`."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": []},
    },
  }),
  cli(commandPreset, {
    ownerLabel: 'A command',
    contextTokens: FALLBACK_CONTEXT_TOKENS,
    settings: {
      "argv": {"type": "array", "items": {"type": "string"}, "default": [], "scope": "machine-overridable", "markdownDescription": "Generic agent command as an argument list (never a shell line); first item = executable. Placeholders: `{prompt}`, `{promptFile}`, `{contextFile}`, `{model}`, `{cwd}`. Plain-text output; success by exit code 0."},
      "extraArgs": {"type": "array", "items": {"type": "string"}, "default": []},
    },
  }),
  {
    id: 'acp',
    displayName: 'ACP agent',
    ownerLabel: 'Agent Client Protocol agent',
    contextTokens: FALLBACK_CONTEXT_TOKENS, // any ACP agent: the model is unknown here
    capabilities: () => new AcpBackend().capabilities,
    replayParser: () => acpReplayParser(),
    create: (config) => new AcpBackend(config as AcpBackendConfig | undefined),
    settings: {
      "path": {"type": "string", "default": "", "scope": "machine-overridable", "description": "An Agent Client Protocol agent, e.g. gemini (with args [\"--acp\"]) or claude-code-acp."},
      "args": {"type": "array", "items": {"type": "string"}, "default": []},
      "mcp": {"type": "boolean", "default": true, "markdownDescription": "Pass the factory's MCP server to each session (`mcpServers` in `session/new`), bound to the change and the attempt."},
      "clientFileSystem": {"type": "boolean", "default": true, "description": "Serve the agent's file writes through the client: confined to the workspace, each one recorded as a file edit. Off, the agent writes with its own file system."},
      "clientFileReads": {"type": "boolean", "default": false, "description": "Also serve the agent's file reads through the client (confined to the workspace). Off by default: Gemini CLI 0.61 cannot create a new file when it reads through the client."},
    },
  },
  {
    id: 'vscode-lm',
    displayName: 'VS Code language model',
    ownerLabel: 'VS Code language model',
    contextTokens: FALLBACK_CONTEXT_TOKENS, // the editor's model checks its own limit per request
    inEditor: true,
    capabilities: () => new VscodeLmBackend(undefined).capabilities,
    // vscode.lm records text fragments as they streamed, not lines.
    replayParser: () => ({ parse: (line) => (line ? [{ kind: 'text', text: line }] : []), end: () => [] }),
    create: (config, deps) => new VscodeLmBackend(deps.languageModels, config as VscodeLmConfig | undefined),
    settings: {
      "vendor": {"type": "string", "default": "copilot"},
      "family": {"type": "string", "default": "", "description": "Model family, e.g. gpt-4o or claude-sonnet-4. Empty: the first model the vendor offers."},
    },
  },
  {
    id: 'human',
    displayName: 'A person',
    ownerLabel: 'A person',
    contextTokens: 0,
    capabilities: () => new HumanBackend().capabilities,
    create: () => new HumanBackend(),
    settings: {},
  },
];

/** Settings that apply to every agent backend: `factory.backends.<key>`. */
export const COMMON_BACKEND_SETTINGS: Readonly<Record<string, SettingSpec>> = {
  timeoutMs: {"type": "number", "default": 3600000, "description": "Wall-clock limit of one agent attempt in milliseconds (besides the stage budget)."},
  maxOutputBytes: {"type": "number", "default": 67108864, "description": "Transcript cap per attempt; output beyond it is dropped with a marker."},
  killGraceMs: { type: 'number', default: 3000, description: 'After Stop, a timeout or a budget, how long (ms) an agent gets to exit before its whole process tree is killed.' },
};

export function backendEntry(id: string): BackendEntry | undefined {
  return BACKENDS.find((b) => b.id === id);
}

/** Every manifest setting the table declares, by full key. */
export function manifestSettings(): Record<string, SettingSpec> {
  const out: Record<string, SettingSpec> = {};
  for (const entry of BACKENDS) for (const [key, spec] of Object.entries(entry.settings)) out[`factory.backends.${entry.id}.${key}`] = spec;
  for (const [key, spec] of Object.entries(COMMON_BACKEND_SETTINGS)) out[`factory.backends.${key}`] = spec;
  return out;
}

/** The environment variables the editor keeps in SecretStorage: one per vendor, from the table. */
export function secretVariables(): string[] {
  return [...new Set(BACKENDS.map((b) => b.secret).filter((s): s is string => s !== undefined))];
}

/**
 * Backend settings as the user set them, through a reader of `factory.backends.*`
 * (the editor's configuration, the CLI's flags and environment): an empty value is
 * "not set", so the backend's own default applies.
 */
export function backendsConfigFrom(read: (key: string) => unknown): Record<string, Record<string, unknown>> {
  const set = (value: unknown) => value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
  const common: Record<string, unknown> = {};
  for (const key of Object.keys(COMMON_BACKEND_SETTINGS)) {
    const value = read(`factory.backends.${key}`);
    if (set(value) && value !== 0) common[key] = value;
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const entry of BACKENDS) {
    const config: Record<string, unknown> = { ...common };
    for (const [key, spec] of Object.entries(entry.settings)) {
      const value = read(`factory.backends.${entry.id}.${key}`);
      if (set(value)) config[key] = value;
      else if (spec.type === 'boolean' && typeof spec.default === 'boolean') config[key] = spec.default;
    }
    out[entry.id] = config;
  }
  return out;
}
