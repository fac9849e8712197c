// Reading one event file: the same checks whether the bytes come from the working
// folder or from a git object (gitTreeRecord.ts). A file is accepted only when its
// name is `<ULID>.json`, it is small enough, parses as JSON without prototype-polluting
// keys, migrates to the current version, validates, and names the id and change it is
// stored under. Anything else is a problem naming the file and the failing field.
import { validateEvent, type FactoryEvent } from '../core/events';
import { JsonTooDeepError, parseJsonChecked, parseJsonSafely } from '../core/json';
import { migrateToCurrent, type MigrationRegistry } from './migrations';

export const EVENT_FILE_NAME = /^[0-9A-HJKMNP-TV-Z]{26}\.json$/;

/** Events are small; prompts and transcripts beyond this belong in evidence. */
export const MAX_EVENT_FILE_BYTES = 4 * 1024 * 1024;

export interface FileProblem {
  field: string;
  message: string;
}

export type EventFileResult = { event: FactoryEvent } | { problem: FileProblem };

export function checkEventFileName(name: string): FileProblem | undefined {
  if (EVENT_FILE_NAME.test(name)) return undefined;
  return { field: '', message: `is not an event file: event files are named <ULID>.json (got "${printable(name)}")` };
}

export function checkEventFileSize(bytes: number): FileProblem | undefined {
  if (bytes <= MAX_EVENT_FILE_BYTES) return undefined;
  return { field: '', message: `is ${bytes} bytes, over the ${MAX_EVENT_FILE_BYTES}-byte limit for an event file` };
}

export function parseEventText(changeId: string, name: string, text: string, migrations: MigrationRegistry): EventFileResult {
  const sizeProblem = checkEventFileSize(Buffer.byteLength(text, 'utf8'));
  if (sizeProblem) return { problem: sizeProblem };
  let parsed: { value: unknown; droppedKeys: string[] };
  try {
    parsed = parseJsonFast(text);
  } catch (error) {
    return { problem: jsonProblem(error) };
  }
  if (parsed.droppedKeys.length > 0) {
    return { problem: { field: parsed.droppedKeys[0]!, message: `has a prototype-polluting key (${parsed.droppedKeys.map(printable).join(', ')}); no writer of the record produces one` } };
  }
  const migrated = migrateToCurrent(parsed.value, migrations);
  if (!migrated.ok) return { problem: { field: migrated.field, message: migrated.message } };
  const result = validateEvent(migrated.value);
  if (!result.ok) return { problem: { field: result.issue.field, message: result.issue.message } };
  if (`${result.event.id}.json` !== name) return { problem: { field: 'id', message: `"${printable(result.event.id)}" does not match the file name ${printable(name)}` } };
  if (result.event.change !== changeId) {
    return { problem: { field: 'change', message: `names change "${printable(result.event.change)}" but is stored under "${changeId}"` } };
  }
  return { event: result.event };
}

/**
 * parseJsonSafely copies every object to drop polluting keys; that copy doubles the
 * cost of loading a large record. A key can only be `__proto__`, `constructor` or
 * `prototype` if the text spells the word or escapes a character, so texts without
 * those are parsed directly (JSON.parse itself never assigns a prototype).
 */
function parseJsonFast(text: string): { value: unknown; droppedKeys: string[] } {
  if (text.includes('\\u') || text.includes('__proto__') || text.includes('constructor') || text.includes('prototype')) return parseJsonSafely(text);
  return { value: parseJsonChecked(text), droppedKeys: [] };
}

/** What a record file that does not parse is told: too deep is not "invalid", and invalid says where. */
export function jsonProblem(error: unknown): FileProblem {
  if (error instanceof JsonTooDeepError) return { field: '', message: `is valid JSON but ${error.message}; no writer of the record nests that deep` };
  return { field: '', message: `is not valid JSON: ${printable((error as Error).message, 300)}` };
}

/** Names and values from a hostile file are shown, but shortened and without control characters. */
export function printable(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}… (${clean.length} characters)` : clean;
}
