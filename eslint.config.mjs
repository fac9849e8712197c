// Lint, and the one direction of imports between layers (see ../shared/DESIGN.md):
// a wrong arrow fails `npm run lint`, and so CI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeSideEffects = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process', 'net', 'node:net', 'http', 'node:http'];
const layer = (name) => [`../${name}`, `../${name}/*`, `../../${name}`, `../../${name}/*`];
const restrict = (layers, { vscode = true, node = false, allowTypeImportsOfVscode = false, typesOnly = [] } = {}) => ({
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      paths: [
        ...(vscode ? [{ name: 'vscode', message: 'Only ui/ and extension.ts talk to VS Code; pass what you need in as a port.', allowTypeImports: allowTypeImportsOfVscode }] : []),
        ...(node ? nodeSideEffects.map((name) => ({ name, message: 'core/ is pure: no file system, processes or network.' })) : []),
      ],
      patterns: [
        ...(layers.length ? [{ group: layers.flatMap(layer), message: 'Imports go one way: ui → engine → backends/verify/store/git → core.' }] : []),
        ...(typesOnly.length ? [{ group: typesOnly.flatMap(layer), allowTypeImports: true, message: 'ui/ reaches the factory through engine/ only; from core/ it takes types.' }] : []),
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'test-artifacts/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['src/core/**/*.ts'], rules: restrict(['store', 'git', 'backends', 'verify', 'engine', 'ui', 'cli', 'webview'], { node: true }) },
  { files: ['src/store/**/*.ts', 'src/git/**/*.ts'], rules: restrict(['backends', 'verify', 'engine', 'ui', 'cli', 'webview']) },
  { files: ['src/verify/**/*.ts'], rules: restrict(['backends', 'engine', 'ui', 'cli', 'webview']) },
  { files: ['src/backends/**/*.ts'], rules: restrict(['verify', 'engine', 'ui', 'cli', 'webview'], { allowTypeImportsOfVscode: true }) },
  { files: ['src/engine/**/*.ts'], rules: restrict(['ui', 'cli', 'webview']) },
  { files: ['src/cli/**/*.ts'], rules: restrict(['ui', 'webview']) },
  // ui/ is thin: it asks the engine's one entry point (engine/factory.ts) and never
  // wires a store, git or a backend itself.
  { files: ['src/ui/**/*.ts'], rules: restrict(['store', 'git', 'backends', 'verify', 'cli', 'webview'], { vscode: false, typesOnly: ['core'] }) },
  // The activation shell loads nothing of the product but the safe-text rules: the
  // workbench (engine, views, backends) is imported lazily, as a file, on first use.
  {
    files: ['src/extension.ts', 'src/shell/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...['ui', 'engine', 'store', 'git', 'backends', 'verify', 'cli', 'mcp', 'webview', 'core'].flatMap((l) => [`./${l}/*`, `../${l}/*`]), './workbench', '../workbench', '!./core/safeText', '!../core/safeText'],
              allowTypeImports: true,
              message: 'The activation shell imports only vscode, node: builtins, src/shell/ and core/safeText: the rest loads on first use.' },
          ],
        },
      ],
    },
  },
  { files: ['src/webview/**/*.ts'], rules: restrict(['store', 'git', 'backends', 'verify', 'engine', 'ui', 'cli'], { node: true }) },
);
