// Visual evidence with the machine's Chromium: the criterion starts a tiny node HTTP
// server, waits for its port, stores PNGs of the requested viewport sizes and checks
// selectors; the server's process is stopped afterwards.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCriterion } from '../../../src/verify/runner';
import { findBrowser } from '../../../src/verify/screenshot';
import { context, criterion, isAlive, makeWorkspace, NODE, readPids, removeDir, waitUntil, writeIn } from './helpers';

const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const [port, pidFile] = process.argv.slice(2);
fs.writeFileSync(pidFile, String(process.pid));
http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title><h1 id="hello">Hello</h1><div id="hidden" style="display:none">secret</div>');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}).listen(Number(port), '127.0.0.1', () => console.log('listening on ' + port));
`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(bytes.subarray(12, 16).toString('ascii'), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('verify/screenshot criterion', function () {
  this.timeout(120_000);
  let dir: string;
  let scratch: string;
  beforeEach(async () => {
    dir = await makeWorkspace();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'verify-shot-'));
    await writeIn(dir, 'server.cjs', SERVER);
  });
  afterEach(async () => {
    await removeDir(dir);
    await removeDir(scratch);
  });

  const shotCriterion = (port: number, pages: unknown[], pidFile: string) =>
    criterion({
      id: 'ui',
      kind: 'screenshot',
      start: { argv: [NODE, 'server.cjs', String(port), pidFile], port, timeoutMs: 15_000 },
      url: `http://127.0.0.1:${port}`,
      pages,
    });

  it('starts the app, stores PNGs of each viewport, passes a visible selector and stops the app', async () => {
    const port = await freePort();
    const pidFile = path.join(scratch, 'server.pid');
    const ctx = context(dir);
    const result = await runCriterion(
      shotCriterion(
        port,
        [
          { name: 'home', path: '/', viewport: { width: 800, height: 600 }, selector: '#hello' },
          { name: 'phone', path: '/', viewport: { width: 375, height: 667 } },
        ],
        pidFile,
      ),
      ctx,
    );
    assert.equal(result.outcome, 'passed', result.message);
    assert.equal(result.message, '2 pages captured');
    assert.match(result.environment.browser ?? '', /^\d+\./);
    assert.deepEqual(pngSize(ctx.evidence.byName('ui.home.800x600.png')!.bytes), { width: 800, height: 600 });
    assert.deepEqual(pngSize(ctx.evidence.byName('ui.phone.375x667.png')!.bytes), { width: 375, height: 667 });
    assert.equal(result.screenshots?.[0]?.selectorVisible, true);
    assert.equal(result.screenshots?.[0]?.status, 200);
    assert.equal(result.screenshots?.[0]?.screenshot?.mediaType, 'image/png');
    assert.match(ctx.evidence.text('ui.app.stdout.log'), new RegExp(`listening on ${port}`));
    const [serverPid] = await readPids(pidFile);
    assert.ok(serverPid);
    await waitUntil(() => !isAlive(serverPid), 5000, 'the app to be stopped');
  });

  it('fails when a selector is missing or hidden, or a page is not found, and still keeps the screenshots', async () => {
    const port = await freePort();
    const ctx = context(dir);
    const result = await runCriterion(
      shotCriterion(
        port,
        [
          { name: 'hidden', path: '/', viewport: { width: 640, height: 480 }, selector: '#hidden' },
          { name: 'absent', path: '/', viewport: { width: 640, height: 480 }, selector: '#nowhere' },
          { name: 'gone', path: '/nope', viewport: { width: 640, height: 480 } },
        ],
        path.join(scratch, 'server.pid'),
      ),
      context(dir, { evidence: ctx.evidence, limits: { pageTimeoutMs: 3000 } }),
    );
    assert.equal(result.outcome, 'failed');
    assert.deepEqual(
      result.screenshots?.map((s) => [s.page, s.selectorVisible, s.error]),
      [
        ['hidden', false, undefined],
        ['absent', false, undefined],
        ['gone', undefined, 'HTTP 404'],
      ],
    );
    assert.match(result.message, /page "hidden": selector #hidden is not visible \(\+2 more\)/);
    assert.match(result.failureFeedback ?? '', /HTTP 404/);
    assert.equal(ctx.evidence.items.filter((i) => i.ref.mediaType === 'image/png').length, 3);
  });

  it('fails when the app exits before it listens, with its output fed back', async () => {
    const port = await freePort();
    const result = await runCriterion(
      criterion({
        id: 'ui',
        kind: 'screenshot',
        start: { argv: [NODE, '-e', "console.error('EADDRINUSE pretend'); process.exit(1)"], port, timeoutMs: 10_000 },
        url: `http://127.0.0.1:${port}`,
        pages: [{ name: 'home' }],
      }),
      context(dir),
    );
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /the app exited \(code 1\) before listening on port/);
    assert.match(result.failureFeedback ?? '', /EADDRINUSE pretend/);
  });

  it('a configured browser path that does not exist is a clear error', async () => {
    const result = await runCriterion(
      criterion({ id: 'ui', kind: 'screenshot', url: 'http://127.0.0.1:9', pages: [{ name: 'home' }] }),
      context(dir, { browserExecutablePath: '/nonexistent/chromium' }),
    );
    assert.equal(result.outcome, 'error');
    assert.equal(result.message, 'the configured browser "/nonexistent/chromium" does not exist or is not executable');
    await assert.rejects(findBrowser(undefined, 'plan9'), /no Chromium found \(looked at no known locations on this platform\)/);
  });

  it('only opens http(s) URLs', async () => {
    const result = await runCriterion(criterion({ id: 'ui', kind: 'screenshot', url: 'file:///etc/passwd', pages: [{ name: 'home' }] }), context(dir));
    assert.equal(result.outcome, 'error');
    assert.match(result.message, /only http\(s\) URLs are opened, not file:/);
  });
});
