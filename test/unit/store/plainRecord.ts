// Changes written as plain files, as another process (or a clone) leaves them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';

export const nextEventId = monotonicFactory();

/** Writes a change's events (a `change.created` first); returns their ids. */
export function writeChange(root: string, changeId: string, title: string, extra: Array<{ type: string; data: object }> = []): string[] {
  return writeEvents(root, changeId, [{ type: 'change.created', data: { title } }, ...extra]);
}

/** Adds events to a change, as another writer would; returns their ids. */
export function writeEvents(root: string, changeId: string, events: Array<{ type: string; data: object }>): string[] {
  const dir = join(root, '.factory', 'changes', changeId, 'events');
  mkdirSync(dir, { recursive: true });
  return events.map(({ type, data }) => {
    const id = nextEventId();
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ v: 1, id, change: changeId, type, at: new Date().toISOString(), data }));
    return id;
  });
}
