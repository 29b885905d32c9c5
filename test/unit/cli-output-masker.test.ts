// User story: whatever way a program chops its output into writes, the masker's output is the same as
// masking the whole output at once: every value replaced by <redacted:NAME>, nothing else changed, and at
// the end nothing held back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MaskSet, Masker } from '@aurora/cli/mask';

function maskAll(text: Buffer, chunks: number[], set: MaskSet): string {
  const m = new Masker(set);
  const out: Buffer[] = [];
  let pos = 0;
  for (const size of chunks) {
    if (pos >= text.length) break;
    out.push(m.push(text.subarray(pos, pos + size)));
    pos += size;
  }
  if (pos < text.length) out.push(m.push(text.subarray(pos)));
  out.push(m.end());
  return Buffer.concat(out).toString('utf8');
}

describe('the streaming output masker', () => {
  test('any chunking gives the same result as masking the whole text', () => {
    const alphabet = fc.constantFrom(...'abcXYZ01-_ü\n'.split(''));
    const word = fc.array(alphabet, { minLength: 4, maxLength: 24 }).map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 3 }),
        fc.array(fc.oneof(word, fc.constantFrom('@0', '@1', '@2')), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 60 }),
        (secrets, pieces, chunks) => {
          const set = new MaskSet();
          secrets.forEach((s, i) => set.add(`S${i}`, s));
          const text = pieces.map((p) => (/^@\d$/.test(p) ? (secrets[Number(p[1])] ?? p) : p)).join('');
          const whole = maskAll(Buffer.from(text), [Number.MAX_SAFE_INTEGER], set);
          const chunked = maskAll(Buffer.from(text), chunks, set);
          assert.equal(chunked, whole);
          for (const s of secrets)
            assert.ok(!chunked.includes(s), `${JSON.stringify(s)} in ${JSON.stringify(chunked)}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('holds back only what could still become a value', () => {
    const set = new MaskSet();
    set.add('TOKEN', 'secret-value');
    const m = new Masker(set);
    assert.equal(m.push(Buffer.from('hello sec')).toString(), 'hello ');
    assert.equal(m.push(Buffer.from('ret-value!')).toString(), '<redacted:TOKEN>!');
    assert.equal(m.push(Buffer.from('no match here\n')).toString(), 'no match here\n');
    assert.equal(m.push(Buffer.from('secr')).toString(), '');
    assert.equal(m.end().toString(), 'secr');
  });

  test('values too short to mask are refused, longer ones overlapping pick the longest', () => {
    const set = new MaskSet();
    assert.equal(set.add('SHORT', 'abc'), false);
    assert.equal(set.add('A', 'abcdef'), true);
    assert.equal(set.add('B', 'abcdefgh'), true);
    const m = new Masker(set);
    assert.equal(
      Buffer.concat([m.push(Buffer.from('x abcdefgh abcdef abc')), m.end()]).toString(),
      'x <redacted:B> <redacted:A> abc',
    );
  });
});
