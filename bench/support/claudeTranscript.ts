// A Claude Code stream-json transcript of any size, from the captured shape
// (test/fixtures/agents/claude-code/success-partial.jsonl): ids unique per round and
// text of varying length, so lines vary like a real session. Shared by the benches.
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

/** `firstRound`: where the ids start, so two generated transcripts differ. */
export async function generateClaudeTranscript(file: string, megabytes: number, firstRound = 0): Promise<void> {
  const template = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/agents/claude-code/success-partial.jsonl'), 'utf8').split('\n').filter(Boolean);
  const body = template.slice(1, -1);
  const out = createWriteStream(file);
  const write = (line: string) => (out.write(line + '\n') ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(template[0] as string);
  let bytes = 0;
  for (let round = firstRound; bytes < megabytes * MiB; round++) {
    for (const line of body) {
      // Unique ids per round, and some longer text so lines vary like a real session.
      const next = line.replace(/msg_mock_(\d)/g, `msg_${round}_$1`).replace(/toolu_mock_(\w+)/g, `toolu_${round}_$1`).replace('Done: I read README.md', `Done (${round}): I read README.md ${'and more '.repeat(round % 40)}`);
      bytes += next.length + 1;
      await write(next);
    }
  }
  await write(template.at(-1) as string);
  await new Promise<void>((resolve) => out.end(resolve));
}
