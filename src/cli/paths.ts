// What the CLI needs before it loads anything else: its exit codes and where the
// user's config file is (named by --help). Nothing heavy may be imported here.
import * as os from 'node:os';
import * as path from 'node:path';

export const EXIT = {
  ok: 0,
  /** A verdict or a run that did not pass, or an action the rules refuse. */
  failed: 1,
  /** A usage error: unknown option, missing argument, a question without a terminal. */
  usage: 2,
  /** A record or environment error: not a git repository, untrusted, pipeline.json invalid or set aside. */
  environment: 3,
} as const;

export const CONFIG_ENV = 'FACTORY_COCKPIT_CONFIG';
export const UNTRUSTED_ENV = 'FACTORY_COCKPIT_UNTRUSTED';

/**
 * The user's config file: FACTORY_COCKPIT_CONFIG, else
 * Linux and others: ${XDG_CONFIG_HOME:-~/.config}/factory-cockpit/config.json;
 * macOS: ~/Library/Application Support/factory-cockpit/config.json;
 * Windows: %APPDATA%\factory-cockpit\config.json.
 */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string {
  if (env[CONFIG_ENV]) return path.resolve(env[CONFIG_ENV]);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'factory-cockpit', 'config.json');
  if (platform === 'win32') return path.win32.join(env.APPDATA && path.win32.isAbsolute(env.APPDATA) ? env.APPDATA : path.win32.join(home, 'AppData', 'Roaming'), 'factory-cockpit', 'config.json');
  const xdg = env.XDG_CONFIG_HOME && path.posix.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(xdg, 'factory-cockpit', 'config.json');
}
