// Runs the commands bundle embedded in dist/cli.js: esbuild.config.mjs appends it,
// brotli-compressed and base64-encoded, as a comment at the end of the file (so
// `--version` and `--help` never parse the engine). A command reads it back, checks it
// is the bundle this file was built with, and compiles it with V8's code cache, kept in
// the per-user cache folder (store/cacheDir.ts) under the bundle's hash and the Node
// version: the first run writes it, later runs skip compiling (and lazily compiling)
// most of the engine. Node 22's module.enableCompileCache() does this for files, but
// this code is not a file, and Node 20 (what VS Code ships on some platforms) has no
// such API. A cache V8 rejects (another V8, a torn file) is rewritten; a cache that
// cannot be written costs nothing but the compile.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { brotliDecompressSync } from 'node:zlib';
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

/** The payload appended to `filename`, refused unless it is the one built with it. */
export function readPayload(bundle: EmbeddedBundle, filename: string): string {
  const text = readFileSync(filename, 'latin1');
  const start = text.lastIndexOf(bundle.mark);
  const end = text.lastIndexOf('*/');
  const packed = start >= 0 && end > start ? text.slice(start + bundle.mark.length, end) : '';
  if (createHash('sha256').update(packed).digest('hex') !== bundle.hash) {
    throw new Error(`${filename} was replaced or damaged since it started (its embedded commands do not match): run the command again.`);
  }
  return packed;
}

/** Evaluates the bundle as a CommonJS module of `filename` and returns its exports. */
export function loadEmbedded(bundle: EmbeddedBundle, filename: string, moduleRequire: NodeJS.Require): unknown {
  const code = brotliDecompressSync(Buffer.from(readPayload(bundle, filename), 'base64')).toString('utf8');
  const cacheFile = codeCachePath(bundle.hash);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    /* the first run with this bundle and this Node */
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${code}\n});`;
  const script = new Script(wrapper, { filename, ...(cachedData ? { cachedData } : {}) });
  if (!cachedData || script.cachedDataRejected) {
    // At exit, the cache also holds the functions the command compiled lazily.
    process.once('exit', () => writeCodeCache(cacheFile, script));
  }
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  run.call(module.exports, module.exports, moduleRequire, module, filename, path.dirname(filename));
  return module.exports;
}

function writeCodeCache(file: string, script: Script): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Atomic: a concurrent start reads the old file or the new one, never half of one.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
    renameSync(temporary, file);
  } catch {
    /* a read-only cache folder: the next start compiles again */
  }
}
