// Reading a recorded ACP transcript back: the stdout lines are JSON-RPC, and the
// agent's `session/update` notifications carry what it did.
import type { SessionUpdate } from '@agentclientprotocol/sdk';
import { mapSessionUpdate } from './acp';
import type { LineParser } from './parsers/common';

/** ACP stdout is JSON-RPC: the agent's `session/update` notifications carry what it did. */
export function acpReplayParser(): LineParser {
  const tools = new Map<string, { kind?: string; input?: unknown; title?: string }>();
  return {
    parse(line) {
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return line.trim() ? [{ kind: 'diagnostic', level: 'warn', message: 'acp: not a JSON-RPC line', line: line.slice(0, 300) }] : [];
      }
      const { method, params } = (message ?? {}) as { method?: unknown; params?: { update?: unknown } };
      if (method !== 'session/update' || !params?.update || typeof params.update !== 'object') return [];
      try {
        return mapSessionUpdate(params.update as SessionUpdate, tools);
      } catch (error) {
        return [{ kind: 'diagnostic', level: 'warn', message: `acp: session update not understood: ${(error as Error).message}`, line: line.slice(0, 300) }];
      }
    },
    end: () => [],
  };
}
