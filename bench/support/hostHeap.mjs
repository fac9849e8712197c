#!/usr/bin/env node
// The memory of a Node process that listens for an inspector (the extension host
// started with --inspect-extensions), read from outside: a full collection first
// (HeapProfiler.collectGarbage), then process.memoryUsage() evaluated in it. Prints
// one JSON line. Needs a Node with a global WebSocket (≥ 22): the host's own Node 24.
// With --by-constructor, the line also has a heap snapshot's live bytes and counts per
// constructor (strings, arrays, closures… by their kind), to compare two readings.
//   <node24> bench/support/hostHeap.mjs <port> [--by-constructor]
const port = Number(process.argv[2]);
const byConstructor = process.argv.includes('--by-constructor');
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
if (!targets[0]?.webSocketDebuggerUrl) throw new Error(`no inspector target on port ${port}`);
const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  socket.addEventListener('open', resolve, { once: true });
  socket.addEventListener('error', () => reject(new Error(`cannot connect to the inspector on port ${port}`)), { once: true });
});
let nextId = 1;
const pending = new Map();
socket.addEventListener('message', (message) => {
  const reply = JSON.parse(String(message.data));
  const waiter = pending.get(reply.id);
  if (!waiter) return; // events
  pending.delete(reply.id);
  if (reply.error) waiter.reject(new Error(`${reply.error.message} (${reply.error.code})`));
  else waiter.resolve(reply.result);
});
const call = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    socket.send(JSON.stringify({ id, method, params }));
  });
// Twice: the first pass can leave objects only the second finds unreachable (weak maps, finalizers).
await call('HeapProfiler.collectGarbage');
await call('HeapProfiler.collectGarbage');
const evaluated = await call('Runtime.evaluate', { expression: 'JSON.stringify({ pid: process.pid, ...process.memoryUsage() })', returnByValue: true });
if (evaluated.exceptionDetails) throw new Error(`evaluate failed: ${evaluated.exceptionDetails.text}`);
const reading = JSON.parse(evaluated.result.value);
if (byConstructor) reading.byConstructor = await constructorSummary();
console.log(JSON.stringify(reading));
socket.close();

/** Self bytes and counts per constructor (objects) or kind (strings, arrays, code…) in a heap snapshot. */
async function constructorSummary() {
  const chunks = [];
  const onChunk = (message) => {
    const event = JSON.parse(String(message.data));
    if (event.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(event.params.chunk);
  };
  socket.addEventListener('message', onChunk);
  await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  socket.removeEventListener('message', onChunk);
  const snapshot = JSON.parse(chunks.join(''));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = {};
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]];
    const key = type === 'object' || type === 'native' ? snapshot.strings[snapshot.nodes[i + nameAt]] : `(${type})`;
    const entry = (totals[key] ??= { bytes: 0, count: 0 });
    entry.bytes += snapshot.nodes[i + sizeAt];
    entry.count += 1;
  }
  return totals;
}
