// What a window does while it closes: the runs that live in it (a vscode.lm stage, which
// cannot be handed to a detached runner; detached runners go on by themselves) are
// stopped and recorded as stopped (outcome cancelled, by whom), waiting up to `graceMs`
// for their records, while the window still can. If the extension host dies before
// that, the next read of any surface records them as interrupted instead.
import type { Factory } from './factory';

export async function stopRunsLivingHere(factory: Factory, options: { graceMs?: number; pollMs?: number } = {}): Promise<string[]> {
  const state = await factory.readState().catch(() => undefined);
  const ids = (state?.changes ?? []).map((c) => c.id).filter((id) => factory.isRunningHere(id));
  if (ids.length === 0) return [];
  await Promise.all(ids.map((id) => factory.stop(id)));
  const deadline = Date.now() + (options.graceMs ?? 4_000);
  while (ids.some((id) => factory.isRunningHere(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
  return ids;
}
