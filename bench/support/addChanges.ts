// Adds <count> generated changes (each a few events: created, a plan attempt and its
// handoff) to a workspace's record, written as plain files like any other writer's.
//   node --import tsx bench/support/addChanges.ts <workspace> <count>
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { monotonicFactory } from 'ulid';

const [root, countArg] = process.argv.slice(2);
if (!root || !countArg) throw new Error('usage: addChanges.ts <workspace> <count>');
const nextId = monotonicFactory();
const by = { name: 'Bench', email: 'bench@example.com' };
let t = Date.now() - 30 * 24 * 3600_000;
for (let c = 0; c < Number(countArg); c++) {
  const change = `bench-change-${String(c).padStart(5, '0')}`;
  const dir = path.join(root, '.factory', 'changes', change, 'events');
  mkdirSync(dir, { recursive: true });
  const write = (type: string, data: object) => {
    t += 1000;
    const id = nextId(t);
    writeFileSync(path.join(dir, `${id}.json`), `${JSON.stringify({ v: 1, id, change, type, at: new Date(t).toISOString(), by, data }, null, 2)}\n`);
    return id;
  };
  write('change.created', { title: `Generated change ${c}`, ticket: `GEN-${c}`, branch: `factory/${change}` });
  const attemptId = nextId(t + 500);
  write('attempt.started', { stageId: 'plan', attemptId, backend: 'claude-code', model: 'sonnet' });
  write('attempt.finished', { stageId: 'plan', attemptId, outcome: 'succeeded', summary: 'Planned.', durationMs: 42_000 });
  write('handoff.recorded', { fromStage: 'plan', attemptId, summary: 'Plan handed on.', outputs: [] });
  if (c % 3 === 0) write('change.completed', {});
}
