// Runs the commands bundle embedded in dist/cli.js: esbuild.config.mjs appends it,
// brotli-compressed and base64-encoded, as a comment at the end of the file (so
// `--version` and `--help` never parse the engine). A command reads it back, checks it
// is the bundle this file was built with, and compiles it with V8's code cache, kept in
// the per-user cache folder (store/cacheDir.ts) under the bundle's hash and the Node
// version: the first run writes it, later runs skip compiling (and lazily compiling)
// most of the engine. Node 22's module.enableCompileCache() does this for files, but
// this code is not a file, and Node 20 (what VS Code ships on some platforms) has no
// such API. A cache V8 rejects (another V8, a torn file) is rewritten; a cache that
// cannot be written costs nothing but the compile. The decompressed source is kept
// there too, under the payload's full hash: once the payload was checked, later runs
// read it back instead of hashing and decompressing the payload again (brotli alone
// costs more than a third of what Node takes to start).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { userCacheRoot } from '../store/cacheDir';

export interface EmbeddedBundle {
  /** What precedes the payload in the file. */
  mark: string;
  /** The sha256 of the payload, computed when it was built. */
  hash: string;
}

/** Where the code cache of a bundle lives for this Node. */
export function codeCachePath(hash: string, cacheRoot: string = userCacheRoot()): string {
  return path.join(cacheRoot, 'code-cache', `cli-${hash.slice(0, 16)}-${process.version}-${process.arch}.bin`);
}

/** Where the checked, decompressed source of a bundle lives (any Node: it is plain text). */
export function sourceCachePath(hash: string, cacheRoot: string = userCacheRoot()): string {
  return path.join(cacheRoot, 'cli-source', `${hash}.js`);
}

/** The payload appended to `filename`, refused unless it is the one built with it. */
export function readPayload(bundle: EmbeddedBundle, filename: string): string {
  const text = readFileSync(filename, 'latin1');
  const start = text.lastIndexOf(bundle.mark);
  const end = text.lastIndexOf('*/');
  const packed = start >= 0 && end > start ? text.slice(start + bundle.mark.length, end) : '';
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the first run of a build only: later runs read the kept source
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  if (createHash('sha256').update(packed).digest('hex') !== bundle.hash) {
    throw new Error(`${filename} was replaced or damaged since it started (its embedded commands do not match): run the command again.`);
  }
  return packed;
}

/** Evaluates the bundle as a CommonJS module of `filename` and returns its exports. */
export function loadEmbedded(bundle: EmbeddedBundle, filename: string, moduleRequire: NodeJS.Require): unknown {
  const cacheFile = codeCachePath(bundle.hash);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    /* the first run with this bundle and this Node */
  }
  const compile = (code: string) => new Script(`(function (exports, require, module, __filename, __dirname) { ${code}\n});`, { filename, ...(cachedData ? { cachedData } : {}) });
  const source = readSource(bundle, filename);
  let script: Script;
  try {
    script = compile(source.code);
  } catch (error) {
    // A kept source that does not compile (cut short by a full disk, edited) is replaced from the payload.
    if (!source.kept) throw error;
    script = compile(readSource(bundle, filename, { fromPayload: true }).code);
  }
  if (!cachedData || script.cachedDataRejected) {
    // At exit, the cache also holds the functions the command compiled lazily.
    process.once('exit', () => writeCodeCache(cacheFile, script));
  }
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  run.call(module.exports, module.exports, moduleRequire, module, filename, path.dirname(filename));
  return module.exports;
}

/**
 * The bundle's source: from the source cache when an earlier run checked and kept it
 * (its name is the payload's hash, written whole or not at all, in the user's own
 * cache folder that also holds the code cache V8 runs), else from the payload, checked
 * against the hash and then kept.
 */
function readSource(bundle: EmbeddedBundle, filename: string, options: { fromPayload?: boolean } = {}): { code: string; kept: boolean } {
  const kept = sourceCachePath(bundle.hash);
  // The kept source ends with this line: a copy cut short (or edited at its end) lacks it
  // and is replaced, even when what is left happens to compile (a cut after a complete
  // statement does, and would load a module without half its exports).
  const end = `\n//# factory-cockpit kept source ${bundle.hash}\n`;
  if (!options.fromPayload) {
    try {
      const code = readFileSync(kept, 'utf8');
      if (code.endsWith(end)) return { code, kept: true };
    } catch {
      /* the first run of this build */
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the first run of a build only, as readPayload's hash
  const { brotliDecompressSync } = require('node:zlib') as typeof import('node:zlib');
  // The same text as later runs read back, so V8's code cache of this run serves them.
  const code = brotliDecompressSync(Buffer.from(readPayload(bundle, filename), 'base64')).toString('utf8') + end;
  writeCacheFile(kept, code);
  return { code, kept: false };
}

function writeCodeCache(file: string, script: Script): void {
  try {
    writeCacheFile(file, script.createCachedData());
  } catch {
    /* createCachedData failed: the next start compiles again */
  }
}

/** Writes a cache file atomically (a concurrent start reads the old file or the new one, never half of one); a read-only cache folder costs only the work next time. */
function writeCacheFile(file: string, data: string | Buffer): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, file);
  } catch {
    /* a read-only cache folder */
  }
}
