// A real workspace in a temp folder with the real record, evidence and context stores.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileRecordStore } from '../../../src/store/recordStore';
import { FileEvidenceStore } from '../../../src/store/evidence';
import { EvidenceContentStore } from '../../../src/store/contextContent';
import { ContextPackStore } from '../../../src/store/contextPackStore';

export interface Workspace {
  root: string;
  records: FileRecordStore;
  content: EvidenceContentStore;
  packs: ContextPackStore;
  write(rel: string, text: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeWorkspace(files: Record<string, string> = {}): Promise<Workspace> {
  // realpath: on some systems the temp folder itself is reached through a link.
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'factory-context-')));
  const records = new FileRecordStore(root);
  const content = new EvidenceContentStore(new FileEvidenceStore(root));
  const packs = new ContextPackStore({ records, content, actor: { name: 'Test User' } });
  const write = async (rel: string, text: string) => {
    const file = path.join(root, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, text);
  };
  for (const [rel, text] of Object.entries(files)) await write(rel, text);
  return { root, records, content, packs, write, cleanup: () => fs.rm(root, { recursive: true, force: true }) };
}
