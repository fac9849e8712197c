// pipeline.json as the product validated it, kept in the repository's per-user cache
// folder (cacheDir.ts, never in the repository): every command is a short process that
// reads pipeline.json, and validating it with zod costs that process zod's one-time
// warm-up besides the parse. The file it is read from changes rarely, so a later process
// takes the validated, defaulted pipeline from here.
//
// An entry stands only for the exact text it was validated from (kept whole and compared
// whole: no hash to collide) and for the build that validated it (another build may have
// other schemas and defaults). Only a valid pipeline is kept, so an invalid file is always
// validated and its problem worded as before. A missing, torn or foreign entry is a miss,
// and a cache that cannot be written costs the validation, nothing else.
import { readFileSync } from 'node:fs';
import type { Pipeline } from '../core/pipeline';
import { writeFileReplacing } from './atomicFile';

declare const __FACTORY_COCKPIT_BUILD__: string | undefined;
/**
 * The build of the running product, set by esbuild.config.mjs (its version and a hash of
 * its sources). Undefined when run from source or by a watching build, whose code changes
 * under the same name: those keep no pipeline.
 */
export const PRODUCT_BUILD: string | undefined = typeof __FACTORY_COCKPIT_BUILD__ === 'string' ? __FACTORY_COCKPIT_BUILD__ : undefined;

/** Where a repository's validated pipeline is kept, and the build that reads and writes it. */
export interface PipelineSlot {
  file: string;
  build: string;
}

interface KeptPipeline {
  build: string;
  text: string;
  pipeline: Pipeline;
}

/** The pipeline kept in the slot when its build validated it from exactly `text`. */
export function readKeptPipeline(slot: PipelineSlot, text: string): Pipeline | undefined {
  let kept: Partial<KeptPipeline> | null;
  try {
    // Synchronous, like the summary index: a small file in the user's own cache folder.
    kept = JSON.parse(readFileSync(slot.file, 'utf8')) as Partial<KeptPipeline> | null;
  } catch {
    return undefined;
  }
  const pipeline = kept?.pipeline;
  if (kept?.build !== slot.build || kept.text !== text || typeof pipeline !== 'object' || pipeline === null || Array.isArray(pipeline)) return undefined;
  return pipeline;
}

/** Keeps the pipeline the slot's build validated from `text`, replacing the entry whole; a failure to write only costs the next process the validation. */
export async function keepPipeline(slot: PipelineSlot, text: string, pipeline: Pipeline): Promise<void> {
  const kept: KeptPipeline = { build: slot.build, text, pipeline };
  try {
    await writeFileReplacing(slot.file, JSON.stringify(kept));
  } catch {
    /* an unwritable cache */
  }
}
