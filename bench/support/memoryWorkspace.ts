// The workspace bench/memory-host.mjs opens: the sample workspace (already made) with
// <changes> generated changes hard-linked from the cached bench record (copied when the
// cache is on another file system), a change for the attempts written through the
// store, and the fake agent's <mb> MB Claude Code stream-json output. Prints JSON.
//   node --import tsx bench/support/memoryWorkspace.ts <workspace> <changes> <agentOutput> <mb>
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { FileRecordStore } from '../../src/store/recordStore';
import { cachedBenchRecord } from './benchRecord';
import { generateClaudeTranscript } from './claudeTranscript';

const [workspace, changesArg, agentOutput, mbArg] = process.argv.slice(2);
if (!workspace || !changesArg || !agentOutput || !mbArg) throw new Error('usage: memoryWorkspace.ts <workspace> <changes> <agentOutput> <mb>');
const changes = Number(changesArg);
if (changes > 0) {
  const record = cachedBenchRecord({ changes, eventsPerChange: 10 });
  // `<dir>/.`: the folder's contents (path.join would drop the dot, and cp would nest the folder).
  const from = `${path.join(record.root, '.factory', 'changes')}/.`;
  const to = path.join(workspace, '.factory', 'changes');
  // Hard links: event files are immutable (the store creates new files, never rewrites one).
  try {
    execFileSync('cp', ['-al', from, to]);
  } catch {
    execFileSync('cp', ['-a', from, to]);
  }
}
async function main(): Promise<void> {
  const store = new FileRecordStore(workspace!);
  const title = 'Memory bench attempts';
  const changeId = store.newChangeId(title);
  await store.append(changeId, { type: 'change.created', by: { name: 'Bench', email: 'bench@example.com' }, data: { title, ticket: 'BENCH-1', branch: 'main' } });
  // Varied prose: a transcript of repeated text would compress to nothing in the evidence store.
  await generateClaudeTranscript(agentOutput!, Number(mbArg), 0, true);
  const inRecord = readdirSync(path.join(workspace!, '.factory', 'changes')).length;
  console.log(JSON.stringify({ changeId, inRecord }));
}

void main();
