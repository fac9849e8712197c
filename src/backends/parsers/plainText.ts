// Aider and generic commands: plain text output, streamed as assistant text line by
// line; success is decided by the exit code (see cliBackend.ts).
import type { LineParser, ParserContext } from './common';

export function createPlainTextParser(_context: ParserContext): LineParser {
  return {
    parse: (line) => [{ kind: 'text', text: `${line}\n` }],
    end: () => [],
  };
}
