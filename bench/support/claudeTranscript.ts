// A Claude Code stream-json transcript of any size, from the captured shape
// (test/fixtures/agents/claude-code/success-partial.jsonl): ids unique per round and
// text of varying length, so lines vary like a real session. Shared by the benches.
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

/**
 * Seeded pseudo-prose: words drawn from a made-up vocabulary, so text does not repeat
 * the way a template does (a transcript of repeated text compresses ~80×; real agent
 * output, with file contents and reasoning, far less).
 */
function proseFrom(seed: number): (words: number) => string {
  let state = seed >>> 0 || 1;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0), state);
  const vocabulary = Array.from({ length: 4096 }, () => Array.from({ length: 2 + (next() % 9) }, () => String.fromCharCode(97 + (next() % 26))).join(''));
  return (words) => Array.from({ length: words }, () => vocabulary[next() % vocabulary.length]).join(' ');
}

/**
 * `firstRound`: where the ids start, so two generated transcripts differ. `varied`: the
 * assistant's text is seeded pseudo-prose instead of a repeated phrase (for sizes).
 */
export async function generateClaudeTranscript(file: string, megabytes: number, firstRound = 0, varied = false): Promise<void> {
  const prose = varied ? proseFrom(firstRound + 1) : undefined;
  const template = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/agents/claude-code/success-partial.jsonl'), 'utf8').split('\n').filter(Boolean);
  const body = template.slice(1, -1);
  const out = createWriteStream(file);
  const write = (line: string) => (out.write(line + '\n') ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(template[0] as string);
  let bytes = 0;
  for (let round = firstRound; bytes < megabytes * MiB; round++) {
    for (const line of body) {
      // Unique ids per round, and some longer text so lines vary like a real session.
      const next = line.replace(/msg_mock_(\d)/g, `msg_${round}_$1`).replace(/toolu_mock_(\w+)/g, `toolu_${round}_$1`).replace('Done: I read README.md', `Done (${round}): I read README.md ${prose ? prose(20 + (round % 60)) : 'and more '.repeat(round % 40)}`);
      bytes += next.length + 1;
      await write(next);
    }
  }
  await write(template.at(-1) as string);
  await new Promise<void>((resolve) => out.end(resolve));
}
