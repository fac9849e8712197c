// Helpers to reach the extension under test through its public API.
import * as vscode from 'vscode';
import type { FactoryCockpitApi } from '../../../src/extension';
import type { CockpitSnapshot } from '../../../src/ui/cockpit';
import { eventually } from './driver';

export const EXTENSION_ID = 'factory-cockpit.factory-cockpit';

export async function cockpitApi(): Promise<FactoryCockpitApi> {
  const extension = vscode.extensions.getExtension<FactoryCockpitApi>(EXTENSION_ID);
  if (!extension) throw new Error(`extension ${EXTENSION_ID} is not installed in the host`);
  const api = await extension.activate();
  if (!api) throw new Error('the extension activated without an API (no folder open?)');
  return api;
}

/** Waits until the cockpit's snapshot satisfies `check` (the record is read asynchronously). */
export async function snapshotWhere(api: FactoryCockpitApi, check: (s: CockpitSnapshot) => boolean, what: string, timeoutMs = 15_000): Promise<CockpitSnapshot> {
  return eventually(async () => {
    const s = api.snapshot();
    return check(s) ? s : undefined;
  }, what, timeoutMs);
}
