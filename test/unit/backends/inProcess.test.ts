// Backends and pieces that need no agent process: vscode.lm through a fake port, the
// human backend, redaction, line splitting, usage metering, registry and the check.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mapSessionUpdate } from '../../../src/backends/acp';
import { checkBackends } from '../../../src/backends/check';
import { HumanBackend } from '../../../src/backends/human';
import { LineSplitter } from '../../../src/backends/lineSplitter';
import { REDACTED, Redactor, secretsFromEnv } from '../../../src/backends/redact';
import { createBackends } from '../../../src/backends/registry';
import { BACKENDS } from '../../../src/backends/catalog';
import { UsageMeter, priceFor } from '../../../src/backends/usageMeter';
import { VscodeLmBackend, type LanguageModelPort, type LmCancellation, type LmModelSelector } from '../../../src/backends/vscodeLm';
import type { SessionUpdate } from '@agentclientprotocol/sdk';
import { collect, fake, FIXTURES, MemorySink, ofKind, tempWorkspace } from './helpers';

function fakeLm(fragments: string[], options: { hangAfter?: number } = {}) {
  const calls: { selector: LmModelSelector; prompt?: string }[] = [];
  const port: LanguageModelPort = {
    async selectChatModels(selector) {
      calls.push({ selector });
      if (selector.family === 'none') return [];
      return [
        {
          id: 'gpt-test',
          vendor: 'copilot',
          family: selector.family ?? 'gpt-4o',
          name: 'Test model',
          async sendUserPrompt(prompt: string, token: LmCancellation) {
            const last = calls.at(-1);
            if (last) last.prompt = prompt;
            return {
              text: (async function* () {
                for (const [i, fragment] of fragments.entries()) {
                  if (options.hangAfter === i) await new Promise<void>((resolve) => token.onCancellationRequested(resolve));
                  if (token.isCancellationRequested) return;
                  yield fragment;
                }
              })(),
            };
          },
          countTokens: async (text: string) => Math.ceil(text.length / 4),
        },
      ];
    },
  };
  return { port, calls };
}

describe('vscode-lm backend (injected lm port)', () => {
  it('selects a model by vendor/family, sends exactly the prompt (no context pack added), streams text', async () => {
    const { port, calls } = fakeLm(['Hello', ', ', 'world']);
    const backend = new VscodeLmBackend(port, { vendor: 'copilot', family: 'gpt-4o' });
    assert.equal(backend.capabilities.canEditFiles, false);
    assert.equal(backend.capabilities.canRunTools, false);
    const { events, result } = await collect(backend.start({ prompt: 'Summarise', contextPack: { version: 'v1', text: 'CONTEXT' }, cwd: '/ws', env: {} }));
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.text, 'Hello, world');
    assert.deepEqual(ofKind(events, 'text').map((t) => t.text), ['Hello', ', ', 'world']);
    assert.deepEqual(calls[0]?.selector, { vendor: 'copilot', family: 'gpt-4o' });
    // The stage's template already holds the context pack: the model gets the prompt byte for byte.
    assert.equal(calls[0]?.prompt, 'Summarise');
    assert.deepEqual([result.requestedModel, result.reportedModel], ['gpt-4o', 'gpt-test']);
    assert.ok((result.usage.inputTokens ?? 0) > 0);
    assert.equal(result.usage.costUsd, undefined);
  });

  it('redacts a secret split across streamed fragments', async () => {
    const secret = 'sk-live-abcdef123456';
    const { port } = fakeLm(['the key is sk-li', 've-abc', 'def123456 ok']);
    const sink = new MemorySink();
    const { result } = await collect(new VscodeLmBackend(port).start({ prompt: 'x', cwd: '/ws', env: { OPENAI_API_KEY: secret }, sink }));
    assert.equal(result.text, `the key is ${REDACTED} ok`);
    assert.ok(!sink.text().includes('abc'));
  });

  it('cancel stops the stream; no model or no port is a clear failure', async () => {
    const { port } = fakeLm(['a', 'b', 'c'], { hangAfter: 1 });
    const controller = new AbortController();
    const run = new VscodeLmBackend(port).start({ prompt: 'x', cwd: '/ws', env: {}, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const { result } = await collect(run);
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.text, 'a');
    const none = await collect(new VscodeLmBackend(fakeLm([]).port, { family: 'none' }).start({ prompt: 'x', cwd: '/ws', env: {} }));
    assert.match(none.result.reason ?? '', /No VS Code language model matches/);
    const noPort = await collect(new VscodeLmBackend(undefined).start({ prompt: 'x', cwd: '/ws', env: {} }));
    assert.equal(noPort.result.outcome, 'failed');
  });
});

describe('human backend', () => {
  it('opens the attempt and closes it with the person\'s note', async () => {
    let now = 1000;
    const run = new HumanBackend({ now: () => now }).start({ prompt: 'Review the UI by hand', cwd: '/ws', env: {} });
    const seen: string[] = [];
    const consuming = (async () => {
      for await (const event of run) seen.push(event.kind);
    })();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['awaitingHuman']);
    now = 61000;
    run.close({ note: 'Checked on Firefox and Chrome; fixed a typo.' });
    await consuming;
    const result = await run.result;
    assert.deepEqual(result, { outcome: 'succeeded', note: 'Checked on Firefox and Chrome; fixed a typo.', text: 'Checked on Firefox and Chrome; fixed a typo.', usage: {}, durationMs: 60000 });
    assert.deepEqual(seen, ['awaitingHuman', 'text', 'result']);
  });

  it('a person can give up, and cancel works before closing', async () => {
    const failed = new HumanBackend().start({ prompt: 'x', cwd: '/ws', env: {} });
    failed.close({ note: 'Not possible', outcome: 'failed' });
    assert.equal((await failed.result).outcome, 'failed');
    const controller = new AbortController();
    const cancelled = new HumanBackend().start({ prompt: 'x', cwd: '/ws', env: {}, signal: controller.signal });
    controller.abort();
    assert.equal((await cancelled.result).outcome, 'cancelled');
  });
});

describe('redaction', () => {
  const secret = 'sk-ant-0123456789abcdef';
  it('takes secret-looking variables from the environment', () => {
    assert.deepEqual(secretsFromEnv({ ANTHROPIC_API_KEY: secret, GITHUB_TOKEN: 'ghp_abcdefgh1234', PATH: '/usr/bin', SHORT_KEY: 'abc' }), [secret, 'ghp_abcdefgh1234']);
  });
  it('redacts raw and JSON-escaped values, in lines and in argv', () => {
    const tricky = 'pa"ss\\word-123';
    const r = new Redactor([secret, tricky]);
    assert.equal(r.redact(`key=${secret}; again ${secret}`), `key=${REDACTED}; again ${REDACTED}`);
    assert.equal(r.redact(JSON.stringify({ v: tricky })), `{"v":"${REDACTED}"}`);
    assert.deepEqual(r.redactArgv(['--key', secret]), ['--key', REDACTED]);
  });
  it('redacts a secret split across chunk boundaries, at every split point', () => {
    const r = new Redactor([secret]);
    const text = `before ${secret} middle ${secret} after`;
    for (let a = 1; a < text.length; a++) {
      const b = Math.min(text.length, a + 7);
      const s = r.stream();
      const out = s.push(text.slice(0, a)) + s.push(text.slice(a, b)) + s.push(text.slice(b)) + s.end();
      assert.equal(out, `before ${REDACTED} middle ${REDACTED} after`, `split at ${a}/${b}`);
    }
  });
});

describe('line splitting', () => {
  it('splits across chunks, strips CR, keeps multi-byte characters whole', () => {
    const lines: string[] = [];
    const s = new LineSplitter({ maxLineBytes: 1024, onLine: (l) => lines.push(l) });
    const bytes = Buffer.from('héllo\r\nwörld\n{"a":"€"}\nlast');
    for (let i = 0; i < bytes.length; i += 3) s.push(bytes.subarray(i, i + 3));
    s.end();
    assert.deepEqual(lines, ['héllo', 'wörld', '{"a":"€"}', 'last']);
  });
  it('cuts an overlong line and drops its rest, with bounded memory', () => {
    const lines: [string, boolean][] = [];
    const s = new LineSplitter({ maxLineBytes: 10, onLine: (l, cut) => lines.push([l, cut]) });
    s.push(Buffer.from('0123456789abcdef'));
    for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1000, 120));
    s.push(Buffer.from('tail\nnext\n'));
    assert.deepEqual(lines, [['0123456789', true], ['next', false]]);
  });
});

describe('usage metering', () => {
  it('estimates from deltas, then takes the agent figure and keeps the larger token totals', () => {
    const meter = new UsageMeter({ 'claude-sonnet-4*': { input: 3, output: 15, cachedInput: 0.3 } }, 'claude-sonnet-4-5');
    const first = meter.add({ kind: 'usage', scope: 'delta', inputTokens: 1000, outputTokens: 100, cachedTokens: 0 });
    assert.deepEqual([first.costUsd, first.costSource], [0.0045, 'estimate']);
    const last = meter.add({ kind: 'usage', scope: 'total', inputTokens: 1200, outputTokens: 300, cachedTokens: 200, costUsd: 0.01, costSource: 'agent' });
    assert.deepEqual([last.inputTokens, last.outputTokens, last.cachedTokens, last.costUsd, last.costSource], [1200, 300, 200, 0.01, 'agent']);
  });
  it('prefix prices: longest prefix wins; unknown model → no cost', () => {
    const table = { 'gemini-2.5-flash*': { input: 0.3, output: 2.5 }, 'gemini-2.5-flash-lite*': { input: 0.1, output: 0.4 } };
    assert.equal(priceFor('gemini-2.5-flash-lite-001', table)?.input, 0.1);
    assert.equal(priceFor('gemini-2.5-flash', table)?.input, 0.3);
    const meter = new UsageMeter(table, 'mystery');
    assert.equal(meter.add({ kind: 'usage', scope: 'delta', inputTokens: 5, outputTokens: 5, cachedTokens: 0 }).costUsd, undefined);
  });
});

describe('ACP update mapping', () => {
  it('ignores known housekeeping updates and reports unknown ones', () => {
    const tools = new Map();
    assert.deepEqual(mapSessionUpdate({ sessionUpdate: 'available_commands_update', availableCommands: [] } as SessionUpdate, tools), []);
    const unknown = mapSessionUpdate({ sessionUpdate: 'hologram' } as unknown as SessionUpdate, tools);
    assert.equal(unknown[0]?.kind, 'diagnostic');
  });
});

describe('registry and checkBackends', () => {
  it('builds every backend by id', () => {
    const registry = createBackends({ 'claude-code': { model: 'claude-sonnet-4-5' } });
    assert.deepEqual([...registry.keys()], BACKENDS.map((b) => b.id));
    assert.equal(registry.get('claude-code')?.capabilities.cost, 'agent');
    assert.equal(registry.get('codex')?.capabilities.cost, 'estimate');
    assert.equal(registry.get('aider')?.capabilities.cost, 'none');
    assert.equal(registry.get('vscode-lm')?.capabilities.canEditFiles, false);
  });

  it('reports path and --version of installed CLIs, and how to fix missing ones', async () => {
    const ws = await tempWorkspace();
    try {
      const bin = path.join(ws.dir, 'bin');
      await import('node:fs/promises').then((fs) => fs.mkdir(bin));
      const codex = path.join(bin, 'codex');
      // As Codex 0.169.0 answers with its home under /tmp: a warning on stderr first, then the version.
      await writeFile(codex, `#!/bin/sh\ncat '${path.join(FIXTURES, 'codex', 'version.stderr.txt')}' >&2\nsleep 0.3\necho "codex-cli 0.169.0"\n`);
      await chmod(codex, 0o755);
      const registry = createBackends({ acp: { path: fake('acp-agent') } });
      const checks = await checkBackends(registry.values(), { env: { PATH: `${bin}:${path.dirname(process.execPath)}` }, cwd: ws.dir });
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
      assert.deepEqual([byId.codex?.available, byId.codex?.path, byId.codex?.version], [true, codex, 'codex-cli 0.169.0']);
      assert.equal(byId['claude-code']?.available, false);
      assert.match(byId['claude-code']?.problem ?? '', /npm install -g @anthropic-ai\/claude-code.*factory\.backends\.claude-code\.path/);
      assert.equal(byId.acp?.available, true);
      assert.equal(byId.command?.available, false);
      assert.equal(byId.human?.available, true);
      assert.equal(byId['vscode-lm']?.problem, 'only inside VS Code');
      assert.equal(byId.gemini?.capabilities.cost, 'estimate');
    } finally {
      await ws.cleanup();
    }
  });
});
