// Builds every backend from the user's settings, by id.
import type { BackendCapabilities } from '../core/agentEvents';
import { AcpBackend, type AcpBackendConfig } from './acp';
import { CliBackend, type CliBackendConfig } from './cliBackend';
import { HumanBackend } from './human';
import { aiderPreset, claudeCodePreset, codexPreset, commandPreset, droidPreset, geminiPreset } from './presets';
import type { AgentBackend, BackendId, PriceTable } from './types';
import { VscodeLmBackend, type LanguageModelPort, type VscodeLmConfig } from './vscodeLm';

export interface BackendsConfig {
  'claude-code'?: CliBackendConfig;
  codex?: CliBackendConfig;
  droid?: CliBackendConfig;
  gemini?: CliBackendConfig;
  aider?: CliBackendConfig;
  command?: CliBackendConfig;
  acp?: AcpBackendConfig;
  'vscode-lm'?: VscodeLmConfig;
  /** Per-model prices (USD per million tokens) for cost estimates; merged over DEFAULT_PRICES. */
  prices?: PriceTable;
  killGraceMs?: number;
}

export interface BackendPorts {
  /** `vscode.lm` as a port (createVscodeLmPort); absent outside the editor. */
  languageModels?: LanguageModelPort;
}

export type BackendRegistry = ReadonlyMap<BackendId, AgentBackend> & { human: HumanBackend };

export function createBackends(config: BackendsConfig = {}, ports: BackendPorts = {}): BackendRegistry {
  const deps = { ...(config.prices ? { prices: config.prices } : {}), ...(config.killGraceMs !== undefined ? { killGraceMs: config.killGraceMs } : {}) };
  const human = new HumanBackend();
  const map = new Map<BackendId, AgentBackend>([
    ['claude-code', new CliBackend(claudeCodePreset, config['claude-code'], deps)],
    ['codex', new CliBackend(codexPreset, config.codex, deps)],
    ['droid', new CliBackend(droidPreset, config.droid, deps)],
    ['gemini', new CliBackend(geminiPreset, config.gemini, deps)],
    ['aider', new CliBackend(aiderPreset, config.aider, deps)],
    ['command', new CliBackend(commandPreset, config.command, deps)],
    ['acp', new AcpBackend(config.acp)],
    ['vscode-lm', new VscodeLmBackend(ports.languageModels, config['vscode-lm'])],
    ['human', human],
  ]);
  return Object.assign(map, { human });
}

export function capabilitiesOf(registry: ReadonlyMap<string, AgentBackend>): Record<string, BackendCapabilities> {
  return Object.fromEntries([...registry].map(([id, backend]) => [id, backend.capabilities]));
}
