#!/usr/bin/env node
// The memory of a Node process that listens for an inspector (the extension host
// started with --inspect-extensions), read from outside: a full collection first
// (HeapProfiler.collectGarbage), then process.memoryUsage() evaluated in it. Prints
// one JSON line. Needs a Node with a global WebSocket (≥ 22): the host's own Node 24.
//   <node24> bench/support/hostHeap.mjs <port>
const port = Number(process.argv[2]);
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
console.log(evaluated.result.value);
socket.close();
