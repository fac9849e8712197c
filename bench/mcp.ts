// The factory MCP server (#18): its start-to-first-response time (spawn `factory-cockpit
// mcp` → the `initialize` answer), and a context render through it (tools/call
// get_context) on a 2,000-item pack, beside the CLI's `context render` on the same pack
// (a process per call, as a script would run it). Medians; prints, never fails.
//   npx tsx bench/mcp.ts        (FACTORY_BENCH_RUNS, default 7; FACTORY_BENCH_ITEMS, default 2000)
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { FileRecordStore } from '../src/store/recordStore';
import { FileEvidenceStore } from '../src/store/evidence';
import { EvidenceContentStore } from '../src/store/contextContent';
import { ContextPackStore } from '../src/store/contextPackStore';
import { contextItemId, estimateTokens, sha256Hex } from '../src/core/contextPack';

const repo = path.join(__dirname, '..');
const runs = Number(process.env.FACTORY_BENCH_RUNS ?? 7);
const items = Number(process.env.FACTORY_BENCH_ITEMS ?? 2000);
const budget = 30_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  execFileSync(process.execPath, ['esbuild.config.mjs', '--cli'], { cwd: repo, stdio: 'inherit' });
  const cli = path.join(repo, 'dist', 'cli.js');
  const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'fc-bench-mcp-')));
  const root = path.join(base, 'repo');
  await fs.mkdir(path.join(root, 'src'), { recursive: true });
  const env = { PATH: process.env.PATH ?? '', HOME: path.join(base, 'home'), FACTORY_COCKPIT_CACHE_DIR: path.join(base, 'cache'), FACTORY_COCKPIT_CONFIG: path.join(base, 'none.json'), GIT_CONFIG_NOSYSTEM: '1' };
  try {
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=b@example.com', ...args], { cwd: root, stdio: 'ignore' });
    git('init', '-q');
    await fs.writeFile(path.join(root, 'README.md'), '# bench\n');
    git('add', '-A');
    git('commit', '-qm', 'init');
    const cliRun = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, env, encoding: 'utf8' });
    cliRun('init');
    const changeId = (JSON.parse(cliRun('--json', 'change', 'start', 'Bench', '--branch', 'none').stdout) as { change: { id: string } }).change.id;
    // The pack's item events written directly (notes of ~1 KB, content in the evidence store),
    // as many adds would leave them; adding 2,000 items one by one through the pack store
    // re-reads the record each time and would take most of the run.
    const records = new FileRecordStore(root);
    const content = new EvidenceContentStore(new FileEvidenceStore(root));
    let start = performance.now();
    for (let i = 0; i < items; i++) {
      const text = `Rule ${i}: ${'keep functions small and name them for what they do. '.repeat(20)}`;
      const source = { origin: 'bench' };
      const contentHash = sha256Hex(text);
      const ref = await content.put(text, { name: `note-${i}.md`, mediaType: 'text/markdown; charset=utf-8' });
      await records.append(changeId, { type: 'context.itemAdded', data: { item: { id: contextItemId('note', { ...source, path: `note-${i}` }, contentHash), kind: 'note', title: `Rule ${i}`, source, contentHash, tokens: estimateTokens(text), content: ref, pinned: false } } });
    }
    const pack = await new ContextPackStore({ records, content }).load(changeId);
    console.log(`a pack of ${pack.items.length} items (~1 KB each) written in ${((performance.now() - start) / 1000).toFixed(1)} s`);

    const startup: number[] = [];
    const viaServer: number[] = [];
    const viaCli: number[] = [];
    for (let r = 0; r < runs; r++) {
      const client = new Client({ name: 'bench', version: '1' });
      start = performance.now();
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp'], cwd: root, env, stderr: 'ignore' }));
      startup.push(performance.now() - start);
      start = performance.now();
      const result = await client.callTool({ name: 'get_context', arguments: { budgetTokens: budget } });
      viaServer.push(performance.now() - start);
      if (result.isError) throw new Error(JSON.stringify(result.content));
      await client.close();
      start = performance.now();
      const rendered = cliRun('context', 'render', '--budget', String(budget));
      viaCli.push(performance.now() - start);
      if (rendered.status !== 0) throw new Error(rendered.stderr);
    }
    console.log(`medians of ${runs} runs (Node ${process.version}):`);
    console.log(`  server start → first response (initialize)        ${median(startup).toFixed(1).padStart(8)} ms`);
    console.log(`  context render through the server (get_context)   ${median(viaServer).toFixed(1).padStart(8)} ms  (budget ${budget} tokens)`);
    console.log(`  factory-cockpit context render (a process)        ${median(viaCli).toFixed(1).padStart(8)} ms`);
    console.log(`  server start + one render, vs the CLI             ${(median(startup) + median(viaServer)).toFixed(1).padStart(8)} ms`);
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
}

void main();
