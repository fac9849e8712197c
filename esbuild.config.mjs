// Bundles the extension (node, cjs, `vscode` external), the webview code (browser,
// esm) and, with --tests, the integration suite that runs inside the VS Code host.
// --production minifies; --watch rebuilds and prints the markers the
// `$esbuild-watch` problem matcher in .vscode/tasks.json waits for.
import * as esbuild from 'esbuild';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

// A production build starts from an empty dist/: leftovers of a development build
// (source maps) would otherwise be packaged into the .vsix.
if (production) rmSync('dist', { recursive: true, force: true });
// Chunk names carry a content hash: a rebuild would otherwise leave the old ones beside the new.
else if (!watch && !process.argv.includes('--cli')) rmSync('dist/lazy', { recursive: true, force: true });

/** Prints the start/finish lines the `$esbuild-watch` problem matcher expects. */
const watchMarkers = {
  name: 'watch-markers',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

// ESM dependencies (tinyglobby's fdir) call createRequire(import.meta.url), which a
// CommonJS bundle leaves undefined: give them the bundle's own file URL. zod probes
// `navigator` (for Cloudflare); VS Code's extension host throws on any read of
// `navigator` from an installed extension (it only warns in development), which broke
// activation of the packaged .vsix. Node code has no navigator.
//
// __FACTORY_COCKPIT_BUILD__ names the build, for what the per-user cache keeps of one
// build's work (the validated pipeline.json, src/store/keptPipeline.ts): the version and
// a hash of the sources and of zod's version, so a build of other sources is another
// build. A watching build's code changes under one name: it has none.
const packageVersion = JSON.parse(readFileSync('package.json', 'utf8')).version;
function productBuild() {
  const hash = createHash('sha256');
  const files = readdirSync('src', { recursive: true }).map((name) => join('src', name)).filter((file) => statSync(file).isFile()).sort();
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(file)).update('\0');
  hash.update(JSON.parse(readFileSync('node_modules/zod/package.json', 'utf8')).version);
  return `${packageVersion}+${hash.digest('hex').slice(0, 16)}`;
}
const BUILD_DEFINE = { __FACTORY_COCKPIT_BUILD__: watch ? 'undefined' : JSON.stringify(productBuild()) };
const NODE_DEFINES = { 'import.meta.url': '__bundleFileUrl', navigator: 'undefined', ...BUILD_DEFINE };
const BUNDLE_URL = "const __bundleFileUrl = require('node:url').pathToFileURL(__filename).href;";

/** What every Node bundle of the product shares (the extension, the CLI, the MCP server). */
const nodeBundle = (options) => ({
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // playwright-core is loaded lazily, only by screenshot criteria (src/verify/screenshot.ts);
  // bundling it would pull its optional chromium-bidi and megabytes in.
  external: ['playwright-core'],
  define: NODE_DEFINES,
  banner: { js: BUNDLE_URL },
  sourcemap: !production,
  metafile: true,
  logLevel: 'warning',
  ...options,
});

// The activation shell (src/extension.ts, src/shell/): all VS Code loads at activation.
const extension = nodeBundle({
  entryPoints: { extension: 'src/extension.ts' },
  external: ['vscode', 'playwright-core'],
  // Maps for development only: the .vsix ships what runs (test/harness/run-packaged-test.mjs checks it).
  minify: production,
  plugins: watch ? [watchMarkers] : [],
});

/**
 * ESM chunks get `vscode` (and every other require of a bundled CommonJS module) from a
 * `require` made for the chunk's own file: VS Code's extension host hands out its API to
 * `require('vscode')` calls from inside the extension's folder, and ESM `import` of
 * 'vscode' is not resolvable by Node.
 */
const vscodeFromRequire = {
  name: 'vscode-from-require',
  setup(build) {
    build.onResolve({ filter: /^vscode$/ }, (args) => (args.namespace === 'vscode-api' ? { path: 'vscode', external: true } : { path: 'vscode', namespace: 'vscode-api' }));
    build.onLoad({ filter: /.*/, namespace: 'vscode-api' }, () => ({ contents: "module.exports = require('vscode');", loader: 'js' }));
  },
};

// The workbench (src/workbench.ts): everything else the editor runs, loaded by the shell
// on first use. ESM with code splitting, so what a view, a command or a run needs on top
// (the ACP SDK, the report parsers, a webview's host code) is a chunk loaded when asked.
const lazy = {
  entryPoints: { workbench: 'src/workbench.ts' },
  outdir: 'dist/lazy',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['playwright-core'],
  define: { navigator: 'undefined', ...BUILD_DEFINE },
  // Bundled CommonJS modules expect require, __filename and __dirname (write-file-atomic names its temp files after __filename).
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; import { fileURLToPath as __fileURLToPath } from 'node:url'; const require = __createRequire(import.meta.url); const __filename = __fileURLToPath(import.meta.url); const __dirname = __fileURLToPath(new URL('.', import.meta.url));",
  },
  sourcemap: !production,
  minify: production,
  metafile: true,
  logLevel: 'warning',
  plugins: watch ? [vscodeFromRequire, watchMarkers] : [vscodeFromRequire],
};

// The headless CLI (src/cli, `factory-cockpit`): one self-contained file, dist/cli.js,
// shipped in the .vsix and run by the detached runner, which must not load anything
// from the install folder after it started (an update replaces it). Commands load the
// engine lazily (esbuild keeps a dynamic import's module unevaluated until called), so
// `--version` evaluates only commander. Minified: less to parse on every start.
/**
 * `./commands` (the engine and everything a command needs) is bundled on its own,
 * brotli-compressed, base64-encoded and appended to dist/cli.js as a comment, which V8
 * skips almost for free (a string literal of the same size costs `--version` 2 ms to
 * scan). src/cli/embedded.ts reads it back from the file, checks its hash and compiles
 * it with a code cache only when a command runs, so `--version` and `--help` never
 * parse the engine. It is still one self-contained file.
 */
const EMBEDDED_MARK = '/*factory-cockpit-commands:';
/**
 * `child_process` (and the net and dgram modules it loads) required on first use by
 * commander, which requires it at load for the executable subcommands this CLI does not
 * have: a `status` that starts no git loads none of it. Commander reads it through a
 * property (`childProcess.spawn`), which the stand-in forwards.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (args.namespace === 'lazy-builtin' ? { path: 'node:child_process', external: true } : { path: 'child_process', namespace: 'lazy-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      contents: `let loaded;
const load = () => (loaded ??= require('node:child_process'));
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => { const d = Reflect.getOwnPropertyDescriptor(load(), key); return d && { ...d, configurable: true }; },
});`,
      loader: 'js',
    }));
  },
};
const embedCommands = {
  name: 'embed-cli-commands',
  setup(build) {
    let packed;
    build.onResolve({ filter: /^\.\/commands$/ }, (args) => (args.importer.endsWith(join('src', 'cli', 'main.ts')) ? { path: 'cli-commands', namespace: 'embed-cli' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'embed-cli' }, async () => {
      const inner = await esbuild.build({
        entryPoints: ['src/cli/commands.ts'],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['playwright-core'],
        define: NODE_DEFINES,
        minify: true,
        metafile: true,
        logLevel: 'warning',
      });
      const code = `${BUNDLE_URL}\n${inner.outputFiles[0].text}\n//# sourceURL=factory-cockpit-commands.js`;
      packed = brotliCompressSync(Buffer.from(code, 'utf8'), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9 } }).toString('base64');
      const hash = createHash('sha256').update(packed).digest('hex');
      return {
        contents: `module.exports = require('./src/cli/embedded').loadEmbedded({ mark: ${JSON.stringify(EMBEDDED_MARK)}, hash: ${JSON.stringify(hash)} }, __filename, require);`,
        loader: 'js',
        resolveDir: process.cwd(),
        watchFiles: Object.keys(inner.metafile?.inputs ?? {}),
      };
    });
    // After esbuild wrote dist/cli.js: the payload goes last (base64 holds no "*/").
    build.onEnd((result) => {
      if (result.errors.length === 0 && packed) appendFileSync(join(build.initialOptions.outdir, 'cli.js'), `\n${EMBEDDED_MARK}${packed}*/\n`);
    });
  },
};
const cli = nodeBundle({
  entryPoints: { cli: 'src/cli/main.ts' },
  define: { ...NODE_DEFINES, __FACTORY_COCKPIT_VERSION__: JSON.stringify(packageVersion) },
  banner: { js: `#!/usr/bin/env node\n${BUNDLE_URL}` },
  minify: true,
  plugins: watch ? [lazyChildProcess, embedCommands, watchMarkers] : [lazyChildProcess, embedCommands],
});

// The MCP server (src/mcp, `factory-cockpit mcp`): its own file, dist/mcp.js, which the
// CLI's `mcp` command alone requires at run time. The SDK brings a web server stack
// (express, hono…) that neither the extension nor the CLI's other commands should parse.
const mcp = nodeBundle({
  entryPoints: { mcp: 'src/mcp/main.ts' },
  minify: true,
  plugins: watch ? [watchMarkers] : [],
});

const webviewEntries = existsSync('src/webview')
  ? Object.fromEntries(
      readdirSync('src/webview')
        .filter((f) => f.endsWith('.main.ts'))
        .map((f) => [f.replace(/\.main\.ts$/, ''), join('src/webview', f)]),
    )
  : {};

const webview = {
  entryPoints: webviewEntries,
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  plugins: watch ? [watchMarkers] : [],
};

const integrationTests = {
  entryPoints: ['test/integration/index.ts', 'test/integration/*.test.ts'],
  outbase: 'test/integration',
  outdir: 'out/test/integration',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // mocha is ESM-only: the suite loads it with a dynamic import from node_modules.
  external: ['vscode', 'mocha', 'playwright-core'],
  // Tests may build the engine (createFactory) themselves, which needs what every Node bundle has.
  define: NODE_DEFINES,
  banner: { js: BUNDLE_URL },
  sourcemap: 'inline',
  logLevel: 'warning',
};

/** Webviews load the codicon font from dist/ (only dist/ and media/ ship in the .vsix). */
function copyCodicons() {
  mkdirSync('dist/webview/codicons', { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) copyFileSync(join('node_modules/@vscode/codicons/dist', file), join('dist/webview/codicons', file));
}

const targets = [extension, lazy];
// `--cli`: only the CLI (its tests and bench build it this way).
const cliOnly = process.argv.includes('--cli');
if (cliOnly) targets.length = 0;
targets.push(cli);
targets.push(mcp);
if (!cliOnly && Object.keys(webviewEntries).length > 0) {
  targets.push(webview);
  copyCodicons();
}
if (tests) targets.push(integrationTests);

if (watch) {
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  const results = await Promise.all(targets.map((t) => esbuild.build(t)));
  mkdirSync('dist/meta', { recursive: true });
  if (!cliOnly) {
    writeFileSync('dist/meta/extension.json', JSON.stringify(results[0].metafile));
    writeFileSync('dist/meta/lazy.json', JSON.stringify(results[1].metafile));
  }
  writeFileSync('dist/meta/cli.json', JSON.stringify(results[targets.indexOf(cli)].metafile));
  chmodSync('dist/cli.js', 0o755);
}
