// The CLI's settings and secrets: the editor's keys (`factory.backends.<id>.<key>`,
// factory.prices, factory.startChange.branch, factory.verify.browserPath), from
//   1. flags: `--set key=value` (repeatable)
//   2. environment variables: the key in capitals, dots and dashes as underscores
//      (factory.backends.claude-code.path → FACTORY_BACKENDS_CLAUDE_CODE_PATH)
//   3. the user config file (paths.ts userConfigPath): {"settings": {key: value}, "secrets": {NAME: value}}
// and never from a file inside the repository: a cloned repository must not choose
// which binary runs. Secrets (API keys) come from the environment, then the config
// file's "secrets"; they reach the agent's environment only and are redacted from
// transcripts (the engine does that), never written to the record.
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import type { SettingSpec } from '../backends/catalog';
import { userConfigPath } from './paths';
import { nearestName } from '../core/nearestName';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Settings outside `factory.backends.*` that the CLI honours, as the extension's manifest declares them. */
const OTHER_SETTINGS: Record<string, SettingSpec> = {
  'factory.prices': { type: 'object', default: {} },
  'factory.startChange.branch': { type: 'string', enum: ['bindCurrent', 'createBranch', 'none'] },
  'factory.verify.browserPath': { type: 'string', default: '' },
};

/** Every key of the backends' catalog (manifestSettings) starts with this. */
const BACKEND_KEY_PREFIX = 'factory.backends.';

export function knownSettings(): Record<string, SettingSpec> {
  // The catalog requires every agent backend's module: loaded only when a setting needs it (see resolveSettings).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- on first use, synchronously
  const { manifestSettings } = require('../backends/catalog') as typeof import('../backends/catalog');
  return { ...manifestSettings(), ...OTHER_SETTINGS };
}

/**
 * The settings a resolution must know: all of them when a backend key is set anywhere
 * (a flag, the config file, a FACTORY_BACKENDS_* variable), else only the others, which
 * answer alike for every key that is not a backend's, without loading the catalog.
 */
function settingsToKnow(flags: readonly string[], configKeys: readonly string[], env: NodeJS.ProcessEnv): Record<string, SettingSpec> {
  const backendEnvPrefix = envNameOf(BACKEND_KEY_PREFIX);
  const backendSet =
    [...flags, ...configKeys].some((key) => key.trim().startsWith(BACKEND_KEY_PREFIX)) || Object.entries(env).some(([name, value]) => name.startsWith(backendEnvPrefix) && value !== undefined && value !== '');
  return backendSet ? knownSettings() : OTHER_SETTINGS;
}

/** factory.backends.claude-code.path → FACTORY_BACKENDS_CLAUDE_CODE_PATH */
export function envNameOf(key: string): string {
  return key.toUpperCase().replace(/[.-]/g, '_');
}

export type SettingSource = 'flag' | 'environment' | 'config';

export interface ResolvedSettings {
  values: Record<string, unknown>;
  /** Where each value came from (doctor shows it). */
  sources: Record<string, SettingSource>;
  secrets: Record<string, string>;
  configPath: string;
  configFound: boolean;
  /**
   * FACTORY_BACKENDS_* variables that name no setting, each with the one it probably
   * meant: ignored (the environment is shared, so not an error), but a misspelt timeout
   * or path would otherwise be ignored without a word. `doctor` and `run` name them.
   */
  unknownEnvironment: Array<{ name: string; suggestion?: string }>;
}

/** Parses a value given as text (a flag or an environment variable) by the setting's type. */
export function parseSettingValue(key: string, spec: SettingSpec, text: string, origin: string): unknown {
  const bad = (what: string) => new UsageError(`${origin}: ${key} must be ${what}, not ${JSON.stringify(text)}.`);
  switch (spec.type) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw bad('a number');
      return n;
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      throw bad('true or false');
    case 'array': {
      if (!text.trim().startsWith('[')) return [text];
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw bad('a JSON array of strings');
      }
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad('a JSON array of strings');
      return value;
    }
    case 'object': {
      try {
        const value = JSON.parse(text) as unknown;
        if (value && typeof value === 'object' && !Array.isArray(value)) return value;
      } catch {
        /* below */
      }
      throw bad('a JSON object');
    }
    default:
      if (Array.isArray(spec.enum) && !spec.enum.includes(text)) throw bad(`one of ${spec.enum.join(', ')}`);
      return text;
  }
}

function checkConfigValue(key: string, spec: SettingSpec, value: unknown, file: string): unknown {
  const ok =
    spec.type === 'array' ? Array.isArray(value) && value.every((v) => typeof v === 'string') : spec.type === 'object' ? Boolean(value) && typeof value === 'object' && !Array.isArray(value) : typeof value === spec.type;
  if (!ok) throw new ConfigError(`${file}: settings.${key} must be ${spec.type === 'array' ? 'an array of strings' : `a ${spec.type}`}.`);
  return value;
}

/** Far more than any config holds: a bigger file is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads the user config file; absent is fine, unreadable or invalid is an error naming it. */
export function readUserConfig(file: string): { settings: Record<string, unknown>; secrets: Record<string, string>; found: boolean } {
  let text: string;
  let fd: number | undefined;
  try {
    // Non-blocking and checked before reading: a FIFO would wait forever for a writer, and
    // /dev/zero (or any device) never ends. A link to a regular file is fine (dotfiles).
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new ConfigError(`The config file ${file} is not a regular file.`);
    if (stats.size > MAX_CONFIG_BYTES) throw new ConfigError(`The config file ${file} is ${stats.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit for a config file.`);
    text = readFileSync(fd, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {}, secrets: {}, found: false };
    throw new ConfigError(`Cannot read the config file ${file}: ${(error as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`The config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`The config file ${file} must hold a JSON object ({"settings": {…}, "secrets": {…}}).`);
  const { settings = {}, secrets = {} } = value as { settings?: unknown; secrets?: unknown };
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) throw new ConfigError(`${file}: "settings" must be an object of setting keys.`);
  if (!secrets || typeof secrets !== 'object' || Array.isArray(secrets)) throw new ConfigError(`${file}: "secrets" must be an object of environment variable names.`);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(secrets as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new ConfigError(`${file}: secrets.${name} must be a string.`);
    out[name] = v;
  }
  return { settings: settings as Record<string, unknown>, secrets: out, found: true };
}

/** Resolves every known setting: flags, then the environment, then the user config file. */
export function resolveSettings(input: { flags: readonly string[]; env: NodeJS.ProcessEnv; configPath?: string }): ResolvedSettings {
  const configPath = input.configPath ?? userConfigPath(input.env);
  const config = readUserConfig(configPath);
  const known = settingsToKnow(input.flags, Object.keys(config.settings), input.env);
  const values: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const [key, value] of Object.entries(config.settings)) {
    const spec = known[key];
    if (!spec) throw new ConfigError(`${configPath}: unknown setting "${key}" (known: factory.backends.<id>.<key>, ${Object.keys(OTHER_SETTINGS).join(', ')}).`);
    values[key] = checkConfigValue(key, spec, value, configPath);
    sources[key] = 'config';
  }
  for (const [key, spec] of Object.entries(known)) {
    const text = input.env[envNameOf(key)];
    if (text === undefined || text === '') continue;
    values[key] = parseSettingValue(key, spec, text, envNameOf(key));
    sources[key] = 'environment';
  }
  for (const flag of input.flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${flag}: write it as key=value, e.g. --set factory.backends.codex.model=gpt-5-codex.`);
    const key = flag.slice(0, eq).trim();
    const spec = known[key];
    if (!spec) throw new UsageError(`--set: unknown setting "${key}" (known: factory.backends.<id>.<key>, ${Object.keys(OTHER_SETTINGS).join(', ')}).`);
    values[key] = parseSettingValue(key, spec, flag.slice(eq + 1), '--set');
    sources[key] = 'flag';
  }
  return { values, sources, secrets: config.secrets, configPath, configFound: config.found, unknownEnvironment: unknownBackendVariables(input.env, known) };
}

function unknownBackendVariables(env: NodeJS.ProcessEnv, known: Record<string, SettingSpec>): ResolvedSettings['unknownEnvironment'] {
  const prefix = envNameOf(BACKEND_KEY_PREFIX);
  const names = new Set(Object.keys(known).map(envNameOf));
  return Object.keys(env)
    .filter((name) => name.startsWith(prefix) && env[name] !== undefined && env[name] !== '' && !names.has(name))
    .sort()
    .map((name) => {
      const suggestion = nearestName(name, [...names]);
      return suggestion ? { name, suggestion } : { name };
    });
}
