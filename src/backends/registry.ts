// Builds every backend of the table (catalog.ts) from the user's settings, by id.
import type { BackendCapabilities } from '../core/agentEvents';
import type { AcpBackendConfig } from './acp';
import { BACKENDS } from './catalog';
import type { CliBackendConfig } from './cliBackend';
import type { HumanBackend } from './human';
import type { AgentBackend, PriceTable } from './types';
import type { LanguageModelPort, VscodeLmConfig } from './vscodeLm';

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

export type BackendRegistry = ReadonlyMap<string, AgentBackend> & { human: HumanBackend };

/** One backend per entry of the table (catalog.ts), configured from the user's settings. */
export function createBackends(config: BackendsConfig = {}, ports: BackendPorts = {}): BackendRegistry {
  const deps = {
    ...(config.prices ? { prices: config.prices } : {}),
    ...(config.killGraceMs !== undefined ? { killGraceMs: config.killGraceMs } : {}),
    ...(ports.languageModels ? { languageModels: ports.languageModels } : {}),
  };
  const map = new Map<string, AgentBackend>(BACKENDS.map((entry) => [entry.id, entry.create((config as Record<string, Record<string, unknown> | undefined>)[entry.id], deps)]));
  return Object.assign(map, { human: map.get('human') as HumanBackend });
}

export function capabilitiesOf(registry: ReadonlyMap<string, AgentBackend>): Record<string, BackendCapabilities> {
  return Object.fromEntries([...registry].map(([id, backend]) => [id, backend.capabilities]));
}
