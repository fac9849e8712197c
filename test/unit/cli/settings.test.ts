// The CLI's settings resolve alike whether or not a backend's key is set anywhere: with
// none set, the backends' catalog (every agent backend's module) is not loaded, which
// holds only because every catalog key is a `factory.backends.` key.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, knownSettings, MAX_CONFIG_BYTES, resolveSettings } from '../../../src/cli/settings';

describe('cli: settings', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fc-settings-'));
    config = join(dir, 'config.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('every setting outside factory.prices, startChange and verify is a factory.backends. key', () => {
    const others = ['factory.prices', 'factory.startChange.branch', 'factory.verify.browserPath'];
    const keys = Object.keys(knownSettings()).filter((k) => !others.includes(k));
    assert.ok(keys.length > 10);
    assert.deepEqual(keys.filter((k) => !k.startsWith('factory.backends.')), []);
  });

  it('resolves the other settings, and refuses unknown keys, without a backend key set', () => {
    writeFileSync(config, JSON.stringify({ settings: { 'factory.verify.browserPath': '/opt/chrome' } }));
    const env = { FACTORY_STARTCHANGE_BRANCH: 'none', FACTORY_COCKPIT_CACHE_DIR: dir };
    const resolved = resolveSettings({ flags: ['factory.prices={"m":{"input":1,"output":2}}'], env, configPath: config });
    assert.deepEqual(resolved.values, { 'factory.verify.browserPath': '/opt/chrome', 'factory.startChange.branch': 'none', 'factory.prices': { m: { input: 1, output: 2 } } });
    assert.deepEqual(resolved.sources, { 'factory.verify.browserPath': 'config', 'factory.startChange.branch': 'environment', 'factory.prices': 'flag' });
    assert.throws(() => resolveSettings({ flags: ['factory.colour=red'], env: {}, configPath: config }), /unknown setting "factory.colour"/);
    assert.throws(() => resolveSettings({ flags: [], env: { FACTORY_STARTCHANGE_BRANCH: 'sideways' }, configPath: config }), /FACTORY_STARTCHANGE_BRANCH: factory.startChange.branch must be one of/);
  });

  it('resolves a backend key set by a flag, the environment or the config file, and refuses an unknown one', () => {
    writeFileSync(config, JSON.stringify({ settings: { 'factory.backends.codex.model': 'gpt-5-codex' } }));
    const fromConfig = resolveSettings({ flags: [], env: {}, configPath: config });
    assert.equal(fromConfig.values['factory.backends.codex.model'], 'gpt-5-codex');
    const fromEnv = resolveSettings({ flags: [], env: { FACTORY_BACKENDS_CLAUDE_CODE_PATH: '/opt/claude' }, configPath: join(dir, 'none.json') });
    assert.deepEqual(fromEnv.values, { 'factory.backends.claude-code.path': '/opt/claude' });
    const fromFlag = resolveSettings({ flags: [' factory.backends.codex.path=/opt/codex'], env: {}, configPath: join(dir, 'none.json') });
    assert.deepEqual(fromFlag.values, { 'factory.backends.codex.path': '/opt/codex' });
    assert.throws(() => resolveSettings({ flags: ['factory.backends.codex.colour=red'], env: {}, configPath: join(dir, 'none.json') }), /unknown setting "factory.backends.codex.colour"/);
  });

  it('names each FACTORY_BACKENDS_* variable that is no setting, with the one it probably meant, and ignores it', () => {
    const env = { FACTORY_BACKENDS_CLAUDE_CODE_PATH: '/opt/claude', FACTORY_BACKENDS_TIMEOUTMSS: '5', FACTORY_BACKENDS_CLAUDE_CODE_TIMEOUTMS: '5', FACTORY_BACKENDS_CODEX_MODLE: 'x', FACTORY_COCKPIT_CONFIG: 'elsewhere', FACTORY_BACKENDS_EMPTY: '' };
    const resolved = resolveSettings({ flags: [], env, configPath: join(dir, 'none.json') });
    assert.deepEqual(resolved.values, { 'factory.backends.claude-code.path': '/opt/claude' });
    assert.deepEqual(resolved.unknownEnvironment, [
      { name: 'FACTORY_BACKENDS_CLAUDE_CODE_TIMEOUTMS' },
      { name: 'FACTORY_BACKENDS_CODEX_MODLE', suggestion: 'FACTORY_BACKENDS_CODEX_MODEL' },
      { name: 'FACTORY_BACKENDS_TIMEOUTMSS', suggestion: 'FACTORY_BACKENDS_TIMEOUTMS' },
    ]);
    assert.deepEqual(resolveSettings({ flags: [], env: { FACTORY_BACKENDS_TIMEOUTMS: '5' }, configPath: join(dir, 'none.json') }).unknownEnvironment, []);
  });
  it('a config path that is a FIFO, a device, a folder or a huge file is refused at once, naming it; a link to a file is read', function () {
    this.timeout(10_000);
    // A folder and a huge file first: without the checks they fail fast, where a FIFO would
    // block the (synchronous) read until a writer came and /dev/zero would never end.
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, `{"settings": {}, "pad": "${'x'.repeat(MAX_CONFIG_BYTES)}"}`);
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    for (const [file, why] of [[dir, /is not a regular file/], [huge, /over the \d+-byte limit/], [fifo, /is not a regular file/], ['/dev/zero', /is not a regular file/]] as const) {
      assert.throws(() => resolveSettings({ flags: [], env: {}, configPath: file }), (error: Error) => error instanceof ConfigError && why.test(error.message) && error.message.includes(file), file);
    }
    writeFileSync(config, JSON.stringify({ settings: { 'factory.verify.browserPath': '/opt/chrome' } }));
    const link = join(dir, 'link.json');
    symlinkSync(config, link);
    assert.equal(resolveSettings({ flags: [], env: {}, configPath: link }).values['factory.verify.browserPath'], '/opt/chrome');
    assert.equal(resolveSettings({ flags: [], env: {}, configPath: join(dir, 'absent.json') }).configFound, false);
  });
});
