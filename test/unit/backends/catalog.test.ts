import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS, backendsConfigFrom, manifestSettings, secretVariables } from '../../../src/backends/catalog';
import { createBackends } from '../../../src/backends/registry';
import { replayParserFor } from '../../../src/engine/transcriptReplay';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, unknown> } };
};

describe('the backend table', () => {
  it('is what package.json declares: every factory.backends.* setting, and nothing else (npm run manifest)', () => {
    const declared = Object.fromEntries(Object.entries(manifest.contributes.configuration.properties).filter(([key]) => key.startsWith('factory.backends.')));
    assert.deepEqual(declared, manifestSettings());
  });

  it('builds one backend per entry, with ids unique and the table\'s capabilities', () => {
    const ids = BACKENDS.map((b) => b.id);
    assert.equal(new Set(ids).size, ids.length);
    const registry = createBackends({});
    assert.deepEqual([...registry.keys()], ids);
    for (const entry of BACKENDS) assert.deepEqual(registry.get(entry.id)!.capabilities, entry.capabilities(), entry.id);
  });

  it('reads settings generically: empty values are unset, booleans keep their default, common keys reach every backend', () => {
    const values: Record<string, unknown> = {
      'factory.backends.claude-code.path': '/opt/claude',
      'factory.backends.claude-code.model': '',
      'factory.backends.claude-code.allowedTools': [],
      'factory.backends.command.argv': ['node', 'agent.mjs', '{prompt}'],
      'factory.backends.timeoutMs': 5000,
    };
    const config = backendsConfigFrom((key) => values[key]);
    assert.deepEqual(config['claude-code'], { timeoutMs: 5000, path: '/opt/claude', mcp: true });
    assert.deepEqual(config.command, { timeoutMs: 5000, argv: ['node', 'agent.mjs', '{prompt}'] });
    const acpDefault = manifestSettings()['factory.backends.acp.clientFileSystem']!.default;
    assert.equal(config.acp!.clientFileSystem, acpDefault);
  });

  it('names one secret per vendor and a replay parser for each agent that streams structured output', () => {
    assert.deepEqual(secretVariables().sort(), ['ANTHROPIC_API_KEY', 'FACTORY_API_KEY', 'GEMINI_API_KEY', 'OPENAI_API_KEY']);
    const claudeLine = JSON.stringify({ type: 'assistant', message: { id: 'm1', role: 'assistant', content: [{ type: 'text', text: 'hello' }] } });
    const events = replayParserFor('claude-code', '/w').parse(claudeLine);
    assert.ok(events.some((e) => e.kind === 'text'), 'claude-code lines are read by its own parser');
    const plain = replayParserFor('a-backend-from-the-future', '/w').parse('plain words');
    assert.equal(plain[0]?.kind, 'text', 'a backend this version does not know is shown as plain text');
  });
});
