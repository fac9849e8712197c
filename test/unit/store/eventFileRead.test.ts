// Reading event files of every size the record allows: small ones share one reused
// buffer, larger ones get their own; the text is the file's, byte for byte, whatever
// was read before it; unknown fields come back as they were written.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { FileRecordStore } from '../../../src/store/recordStore';
import { RecordFs } from '../../../src/store/recordFs';
import { MAX_EVENT_FILE_BYTES } from '../../../src/store/eventFile';
import { tempWorkspace } from './helpers';

const ulid = monotonicFactory();

describe('store: reading event files', () => {
  let ws: ReturnType<typeof tempWorkspace>;
  beforeEach(() => (ws = tempWorkspace('read')));
  afterEach(() => ws.cleanup());

  const eventsDir = (change: string) => join(ws.dir, '.factory', 'changes', change, 'events');

  it('returns every file whole, small and large, one after another (no text left over from the previous one)', () => {
    const dir = join(ws.dir, 'files');
    mkdirSync(dir);
    // Sizes around the reused buffer's (64 KiB) and up to the limit; multi-byte characters included.
    const sizes = [0, 1, 300, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 10, 1024 * 1024, MAX_EVENT_FILE_BYTES - 7, 5];
    const fsx = new RecordFs(ws.dir);
    sizes.forEach((size, i) => {
      const text = `${'é'.repeat(Math.floor(size / 4))}${'x'.repeat(size - Math.floor(size / 4) * 2)}`;
      const file = join(dir, `f${i}.json`);
      writeFileSync(file, text);
      assert.equal(Buffer.byteLength(text), size);
      assert.equal(fsx.readSmallFileSync(file, MAX_EVENT_FILE_BYTES), text, `file of ${size} bytes`);
    });
    const over = join(dir, 'over.json');
    writeFileSync(over, Buffer.alloc(MAX_EVENT_FILE_BYTES + 1, 0x20));
    assert.equal(fsx.readSmallFileSync(over, MAX_EVENT_FILE_BYTES), MAX_EVENT_FILE_BYTES + 1);
    assert.equal(fsx.readSmallFileSync(join(dir, 'absent.json'), MAX_EVENT_FILE_BYTES), 'gone');
  });

  it('reads a change whose events are large and small alike, unknown fields kept', async () => {
    mkdirSync(eventsDir('big'), { recursive: true });
    const written: Array<Record<string, unknown>> = [];
    const write = (type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const id = ulid();
      const event = { v: 1, id, change: 'big', type, at: '2026-11-20T09:00:00.000Z', data, ...extra };
      writeFileSync(join(eventsDir('big'), `${id}.json`), `${JSON.stringify(event, null, 2)}\n`);
      written.push(event);
    };
    write('change.created', { title: 'Big prompts', fromTheFuture: { kept: [1, 2] } }, { signedBy: 'someone' });
    const attemptId = ulid();
    write('attempt.started', { stageId: 'plan', attemptId, backend: 'claude-code', prompt: 'ü'.repeat(200_000) });
    write('attempt.finished', { stageId: 'plan', attemptId, outcome: 'succeeded', summary: 'short' });
    write('attempt.noted', { attemptId, text: 'x'.repeat(70_000), kind: 'progress', tool: 'note' });
    const record = await new FileRecordStore(ws.dir).readChange('big');
    assert.deepEqual(record.problems, []);
    assert.deepEqual(record.events, written);
    // Nothing was rewritten on the way.
    const first = written[0]!;
    assert.equal(readFileSync(join(eventsDir('big'), `${first.id as string}.json`), 'utf8'), `${JSON.stringify(first, null, 2)}\n`);
  });
});
