// Untrusted text on VS Code surfaces: hostile strings in, plain visible text out.
import * as assert from 'node:assert/strict';
import { escapeCodePoint, plainDetail, plainLabel, plainMarkdown, plainMessage, plainText } from '../../../src/core/safeText';

const WJ = '\u2060';

// What VS Code itself matches (iconLabels.ts and linkedText.ts): if these find
// nothing in the output, no icon and no link can render from it.
const ICON = /(?<!\\)\$\([A-Za-z0-9-]+(?:~[A-Za-z]+)?\)/;
const LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^)\s]+)(?: (["'])(.+?)(\3))?\)/i;
/** Every character that must never reach a surface raw. */
// eslint-disable-next-line no-control-regex
const RAW_HOSTILE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** What a reader sees: the output without the invisible joiners this module inserts. */
const visible = (s: string) => s.split(WJ).join('');

describe('core/safeText', () => {
  it('leaves ordinary text alone, in any script', () => {
    for (const text of ['Add search to the docs', 'Ünïcödé – “quotes” · 50% off', '日本語のタイトル', 'עברית ועוד', 'مرحبا بالعالم', 'C:\\Users\\ada\\repo', 'price $5 (approx)']) {
      assert.equal(plainLabel(text), text);
    }
  });

  it('neutralises $(icon) syntax but shows it exactly as written', () => {
    for (const text of ['$(check) passed', '$(sync~spin) running', 'a$(x)b$(y)', '\\$(escaped)', '$($(nested))', '$(']) {
      const out = plainLabel(text);
      assert.doesNotMatch(out, ICON, text);
      assert.equal(visible(out), text, 'a reader sees the same characters');
    }
    assert.equal(plainLabel('$(check)'), `$${WJ}(check)`);
  });

  it('neutralises markdown links in messages, command: URIs included', () => {
    const hostile = [
      '[Click to fix](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%20-rf%20~%22%7D)',
      'see [docs](https://evil.example "title") now',
      '[a](file:///etc/passwd)',
      '[[nested]](command:x)',
      '[x](COMMAND:y)',
      '[x] (command:y)',
    ];
    for (const text of hostile) {
      const out = plainMessage(text);
      assert.doesNotMatch(out, LINK, text);
      assert.equal(visible(out), text);
    }
  });

  it('shows bidirectional overrides, controls and invisible characters escaped', () => {
    const cases: Array<[string, string]> = [
      ['invoice\u202Efdp.exe', 'invoice\\u202Efdp.exe'],
      ['a\u2066b\u2069c', 'a\\u2066b\\u2069c'],
      ['\u200Eleft\u200F', '\\u200Eleft\\u200F'],
      ['\u061Cx', '\\u061Cx'],
      ['pay\u200Bpal', 'pay\\u200Bpal'],
      ['pay\u200Cpal', 'pay\\u200Cpal'],
      ['\uFEFFbom', '\\uFEFFbom'],
      ['bell\u0007 esc\u001b[31mred', 'bell\\u0007 esc\\u001B[31mred'],
      ['nul\u0000', 'nul\\u0000'],
      ['c1\u0085next\u009b', 'c1\\u0085next\\u009B'],
      ['del\u007f', 'del\\u007F'],
      ['line\u2028sep', 'line\\u2028sep'],
      ['soft\u00ADhyphen', 'soft\\u00ADhyphen'],
      ['hangul\u3164filler', 'hangul\\u3164filler'],
      ['tag\u{E0041}\u{E0042}smuggled', 'tag\\u{E0041}\\u{E0042}smuggled'],
      ['non\uFFFFchar', 'non\\uFFFFchar'],
    ];
    for (const [input, expected] of cases) {
      assert.equal(plainLabel(input), expected, JSON.stringify(input));
      assert.doesNotMatch(plainDetail(input), RAW_HOSTILE);
    }
  });

  it('keeps joiners where writing needs them: emoji sequences, Persian, Indic scripts, subdivision flags', () => {
    for (const text of ['👨‍👩‍👧 family', '👩🏽‍💻 dev', '❤️‍🔥', 'می‌خواهم', 'क्‍ष', '🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland', 'é (e + combining) é']) {
      assert.equal(plainLabel(text), text, JSON.stringify(text));
    }
  });

  it('single-line surfaces show newlines, tabs and carriage returns escaped; multi-line ones keep them', () => {
    assert.equal(plainLabel('first\nsecond\r\nthird\tx'), 'first\\nsecond\\r\\nthird\\tx');
    assert.equal(plainMessage('Title\n\n[x](command:y)'), `Title\\n\\n[x]${WJ}(command:y)`);
    assert.equal(plainDetail('first\r\nsecond\n\tindented\rlone'), 'first\nsecond\n\tindented\\rlone');
  });

  it('escapes lone surrogates and keeps pairs whole', () => {
    assert.equal(plainLabel('a\uD800b'), 'a\\uD800b');
    assert.equal(plainLabel('a\uDC00b'), 'a\\uDC00b');
    assert.equal(plainLabel('\uDC00\uD800'), '\\uDC00\\uD800');
    assert.equal(plainLabel('😀'), '😀');
    assert.doesNotMatch(plainLabel('x\uD83D'), RAW_HOSTILE);
  });

  it('bounds the length, never splitting a surrogate pair or an escape', () => {
    const long = 'x'.repeat(100_000);
    assert.equal(plainLabel(long).length, 200);
    assert.ok(plainLabel(long).endsWith('…'));
    assert.equal(plainLabel('x'.repeat(200)), 'x'.repeat(200), 'exactly max fits without an ellipsis');
    assert.equal(plainLabel('😀'.repeat(10), 6), '😀😀…');
    assert.equal(plainLabel('\u202E'.repeat(10), 14), '\\u202E\\u202E…');
    assert.equal(plainLabel('$(x)'.repeat(3), 4), `$${WJ}(…`);
    assert.equal(plainLabel('$(x)'.repeat(3), 2), '…', 'the joiner goes with its $, never left behind');
    assert.ok(plainMessage('y'.repeat(5000)).length <= 1000);
    assert.ok(plainDetail('z\n'.repeat(10_000)).length <= 8000);
    // A huge hostile string is cheap: only what can be shown is looked at.
    const started = performance.now();
    plainLabel('\u202E'.repeat(5_000_000));
    assert.ok(performance.now() - started < 200);
  });

  it('the ellipsis is not mistaken for content: an escape is never half shown', () => {
    for (let max = 1; max < 30; max++) {
      const out = plainLabel('ab\u202Ecd\u0000$(x)', max);
      assert.ok(out.length <= max, `${max}: ${out}`);
      assert.doesNotMatch(out, /\\u[0-9A-F]{0,3}…$/);
    }
  });

  it('accepts what is not a string without throwing', () => {
    assert.equal(plainLabel(undefined), '');
    assert.equal(plainLabel(null), '');
    assert.equal(plainLabel(42), '42');
    assert.equal(plainLabel({ toString: () => '$(x)' }), `$${WJ}(x)`);
  });

  it('markdown: metacharacters escaped so nothing becomes a link, image or HTML', () => {
    const out = plainMarkdown('![img](https://x/y.png) [l](command:z) <img src=x onerror=alert(1)> **b** $(check)\u202E');
    assert.ok(!/(?<!\\)[[\]()<>*!]/.test(out.replace(/\\\\/g, '')), out);
    assert.match(out, /\\u202E/);
  });

  it('a fuzz of random code points never lets a hostile character, an icon or a link through', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const alphabet = ['$', '(', ')', '[', ']', 'a', 'command:x', '\n', '\u202E', '\u200D', '\u200C', '👨', '\uD800', '\uDC00', '\u{E0041}', '\u{1F3F4}', '\u{E007F}', 'ب', '\\'];
    for (let round = 0; round < 2000; round++) {
      let text = '';
      for (let k = 0; k < 30; k++) text += rand() < 0.5 ? alphabet[Math.floor(rand() * alphabet.length)] : String.fromCharCode(Math.floor(rand() * 0x10000));
      for (const out of [plainLabel(text, 60), plainMessage(text)]) {
        assert.doesNotMatch(out, RAW_HOSTILE, JSON.stringify(text));
        // A joiner left in the text sits between two letters of one joining script, or two pictographs.
        for (const m of out.matchAll(/(.)[\u200c\u200d](.)/gsu)) {
          const pair = `${m[1]}${m[2]}`;
          assert.ok(/^[\p{scx=Arab}\p{scx=Syrc}\p{scx=Nkoo}\p{scx=Mong}\p{scx=Deva}\p{scx=Beng}\p{scx=Guru}\p{scx=Gujr}\p{scx=Orya}\p{scx=Taml}\p{scx=Telu}\p{scx=Knda}\p{scx=Mlym}\p{scx=Sinh}\p{M}]{2}$/u.test(pair) || /^\p{Extended_Pictographic}{2}$/u.test(pair), JSON.stringify([text, pair]));
        }
        assert.doesNotMatch(out, ICON);
        assert.doesNotMatch(out, LINK);
        assert.ok(!out.includes('\n'));
      }
    }
  });

  it('escapeCodePoint writes BMP and astral forms', () => {
    assert.equal(escapeCodePoint(0x202e), '\\u202E');
    assert.equal(escapeCodePoint(0x7), '\\u0007');
    assert.equal(escapeCodePoint(0xe0041), '\\u{E0041}');
    assert.equal(plainText('xy', { max: 0, multiline: false, icons: true, links: true }), '…');
  });
});
