// Schema versions. Every event file carries `v`; when the format changes, the writer
// bumps EVENT_SCHEMA_VERSION (core/events.ts) and adds a migration here from the old
// version to the next. Migrations run on read, on the parsed JSON, before validation;
// the file on disk is never rewritten (the record is append-only and shared through
// git, where an older extension may still read it). A file newer than this version is
// kept as an unknown event (see validateEvent), never migrated down.
import { EVENT_SCHEMA_VERSION } from '../core/events';

export interface Migration {
  /** The version this migration reads. */
  from: number;
  /** The version it produces: normally from + 1. */
  to: number;
  /** Returns the migrated object; must not mutate its input. */
  migrate(raw: Record<string, unknown>): Record<string, unknown>;
}

export type MigrationRegistry = readonly Migration[];

/** Version 1 is the first format, so nothing migrates yet. */
export const EVENT_MIGRATIONS: MigrationRegistry = [];

export type MigrationResult = { ok: true; value: unknown; migratedFrom?: number } | { ok: false; field: string; message: string };

/**
 * Brings a parsed event file up to `target` (EVENT_SCHEMA_VERSION) through the
 * registry. Files without a numeric `v` are left to validation to report.
 */
export function migrateToCurrent(raw: unknown, registry: MigrationRegistry, target = EVENT_SCHEMA_VERSION): MigrationResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: true, value: raw };
  let value = raw as Record<string, unknown>;
  const start = value.v;
  if (typeof start !== 'number' || !Number.isInteger(start) || start >= target) return { ok: true, value };
  let version = start;
  const seen = new Set<number>();
  while (version < target) {
    const step = registry.find((m) => m.from === version);
    if (!step) return { ok: false, field: 'v', message: `version ${version} is older than ${target} and no migration reads it` };
    if (step.to <= version || seen.has(version)) return { ok: false, field: 'v', message: `the migration from version ${version} does not move forward` };
    seen.add(version);
    try {
      value = { ...step.migrate(value), v: step.to };
    } catch (error) {
      return { ok: false, field: 'v', message: `the migration from version ${version} failed: ${(error as Error).message}` };
    }
    version = step.to;
  }
  return { ok: true, value, migratedFrom: start };
}
