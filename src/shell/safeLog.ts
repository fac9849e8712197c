// The output channel with every line plain: what an agent printed or a hostile title
// cannot reverse or hide text in the log. Built by the shell at activation, so it takes
// its one rule from core/safeText.ts directly (nothing else of the product loads then).
import type * as vscode from 'vscode';
import { plainDetail } from '../core/safeText';

export function safeLog(log: vscode.LogOutputChannel): vscode.LogOutputChannel {
  const wrap = (fn: (message: string, ...args: unknown[]) => void) => (message: string | Error, ...args: unknown[]) =>
    fn(plainDetail(message instanceof Error ? (message.stack ?? message.message) : message, 100_000), ...args);
  return new Proxy(log, {
    get(target, property, receiver) {
      if (property === 'info' || property === 'warn' || property === 'debug' || property === 'trace' || property === 'error' || property === 'appendLine') {
        return wrap((target[property] as (m: string, ...a: unknown[]) => void).bind(target));
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
