// Context pack costs at a realistic and a large size: adding items (each add reads
// the change's record), folding the events, rendering within a budget, and the disk
// staleness check. Prints numbers; never fails on time.
//   npx tsx bench/contextPack.ts
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileRecordStore } from '../src/store/recordStore';
import { FileEvidenceStore } from '../src/store/evidence';
import { EvidenceContentStore } from '../src/store/contextContent';
import { ContextPackStore, checkStaleness } from '../src/store/contextPackStore';
import { foldContextPack } from '../src/core/contextPack';

async function time<T>(label: string, fn: () => Promise<T> | T, per?: number): Promise<T> {
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  console.log(`${label.padEnd(52)} ${ms.toFixed(1).padStart(9)} ms${per ? `  (${(ms / per).toFixed(2)} ms each)` : ''}`);
  return result;
}

async function run(items: number): Promise<void> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'factory-bench-context-')));
  try {
    for (let i = 0; i < items; i++) {
      await fs.mkdir(path.join(root, 'src'), { recursive: true });
      await fs.writeFile(path.join(root, 'src', `f${i}.ts`), `// file ${i}\n${'export const value = 42; // some code\n'.repeat(100)}`);
    }
    const records = new FileRecordStore(root);
    const packs = new ContextPackStore({ records, content: new EvidenceContentStore(new FileEvidenceStore(root)) });
    console.log(`\n${items} file items (~4 KB each)`);
    await time(`add ${items} files one by one`, async () => {
      for (let i = 0; i < items; i++) await packs.addFileItem('c1', { path: `src/f${i}.ts` });
    }, items);
    const pack = await packs.load('c1');
    await time(`pin + reorder (2 more versions)`, async () => {
      await packs.pin('c1', pack.items[items - 1]!.id);
      await packs.reorder('c1', [...pack.items].reverse().map((i) => i.id));
    });
    const events = (await records.readChange('c1')).events;
    await time(`fold ${events.length} events x20`, () => {
      for (let i = 0; i < 20; i++) foldContextPack(events);
    }, 20);
    const latest = await packs.load('c1');
    await time('staleness check (hash every file on disk)', () => checkStaleness(root, latest));
    const rendered = await time('render (load contents + 30k-token budget)', () => packs.render('c1', { budgetTokens: 30_000 }));
    console.log(`  rendered ${rendered.included.length} items, cut ${rendered.cut.length}, ${rendered.tokens} tokens`);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

void (async () => {
  await run(50);
  await run(300);
})();
