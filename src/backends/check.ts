// "Factory: Check agent backends": which agent CLIs are installed (path, --version) and
// what each can report.
import type { BackendCapabilities } from '../core/agentEvents';
import { AcpBackend } from './acp';
import { CliBackend, missingBinaryMessage, settingName } from './cliBackend';
import { resolveExecutable } from './processTree';
import { Redactor } from './redact';
import { runProcess } from './runner';
import type { AgentBackend } from './types';
import { VscodeLmBackend } from './vscodeLm';

export interface BackendCheck {
  id: string;
  displayName: string;
  /** Installed / configured and answering. */
  available: boolean;
  path?: string;
  version?: string;
  /** Why it is not available, and what to do. */
  problem?: string;
  /** The setting that points at it. */
  setting?: string;
  capabilities: BackendCapabilities;
}

export interface CheckOptions {
  env: Record<string, string | undefined>;
  cwd: string;
  timeoutMs?: number;
  /** vscode-lm: how many models the editor offers (the UI asks `vscode.lm`). */
  languageModelCount?: number;
}

export async function checkBackends(backends: Iterable<AgentBackend>, options: CheckOptions): Promise<BackendCheck[]> {
  return Promise.all([...backends].map((backend) => checkOne(backend, options)));
}

async function checkOne(backend: AgentBackend, options: CheckOptions): Promise<BackendCheck> {
  const base = { id: backend.id, displayName: backend.displayName, capabilities: backend.capabilities };
  if (backend instanceof CliBackend) {
    const { preset, config } = backend;
    const wanted = (preset.plainText ? config.argv?.[0] : undefined) ?? config.path ?? (preset.executable || undefined);
    const setting = settingName(preset.id, preset.id === 'command' ? 'argv' : 'path');
    if (!wanted) return { ...base, available: false, setting, problem: `not configured: set ${setting}` };
    const found = await resolveExecutable(wanted, options.env.PATH, options.cwd);
    if (!found) return { ...base, available: false, setting, problem: missingBinaryMessage(preset, wanted, wanted.includes('/')) };
    if (preset.id === 'command') return { ...base, available: true, path: found, setting };
    const version = await versionOf(found, [...(preset.versionArgs ?? ['--version'])], options);
    return { ...base, available: version.ok, path: found, setting, ...(version.ok ? { version: version.text } : { problem: `${found} ${(preset.versionArgs ?? ['--version']).join(' ')} failed: ${version.text}` }) };
  }
  if (backend instanceof AcpBackend) {
    const config = backend.config;
    const setting = settingName(backend.id);
    if (!config.path) return { ...base, available: false, setting, problem: `not configured: set ${setting} to an ACP agent (e.g. gemini with args ["--acp"])` };
    const found = await resolveExecutable(config.path, options.env.PATH, options.cwd);
    return found ? { ...base, available: true, path: found, setting } : { ...base, available: false, setting, problem: `"${config.path}" was not found` };
  }
  if (backend instanceof VscodeLmBackend) {
    const count = options.languageModelCount;
    if (count === undefined) return { ...base, available: false, problem: 'only inside VS Code' };
    return count > 0 ? { ...base, available: true, version: `${count} model(s)` } : { ...base, available: false, problem: 'no language model provider is installed (e.g. GitHub Copilot Chat)' };
  }
  return { ...base, available: true };
}

async function versionOf(executable: string, args: string[], options: CheckOptions): Promise<{ ok: boolean; text: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const proc = runProcess({
    command: executable,
    args,
    cwd: options.cwd,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 15000,
    killGraceMs: 1000,
    maxOutputBytes: 64 * 1024,
    redactor: new Redactor([]),
    onStdoutLine: (line) => stdout.push(line.trim()),
    onStderrLine: (line) => stderr.push(line.trim()),
  });
  const exit = await proc.exit;
  if (exit.spawnError) return { ok: false, text: exit.spawnError.message };
  if (exit.stopped) return { ok: false, text: exit.stopped.reason };
  if (exit.exitCode !== 0) {
    const said = [...stderr, ...stdout].find(Boolean);
    return { ok: false, text: `exit code ${exit.exitCode}${said ? `: ${said}` : ''}` };
  }
  return { ok: true, text: versionLine(stdout, stderr) };
}

/**
 * The line that names the version: the first with a version number, stdout before
 * stderr, else the first line at all. Not simply the first line: Codex 0.169.0 with its
 * home under /tmp first warns on stderr ("WARNING: proceeding, even though we could not
 * create PATH aliases: …", test/fixtures/agents/codex/version.stderr.txt), then prints
 * `codex-cli 0.169.0`, and the warning was recorded as the agent's version.
 */
export function versionLine(stdout: readonly string[], stderr: readonly string[]): string {
  const lines = [...stdout, ...stderr].filter(Boolean);
  return lines.find((line) => /\d+\.\d+/.test(line)) ?? lines[0] ?? '';
}
