/**
 * Masking resolved values in a child's output: every occurrence of a value becomes `<redacted:NAME>`, also
 * when the child writes it in pieces. The masker works on bytes and holds back only the end of what it has
 * seen that could still grow into a value (a suffix that is a prefix of some value, so at most the longest
 * value's length − 1 bytes); everything before that is written out at once, so interactive output is not
 * delayed unless it really might be the start of a secret.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Values shorter than this are not masked: they would redact ordinary output ("1", "yes") everywhere. */
export const MIN_MASKED_LENGTH = 4;

interface Pattern {
  bytes: Buffer;
  replacement: Buffer;
}

/**
 * The values to mask, shared by every stream of every child of one run; `set` replaces them (after a rotation
 * both the old and the new values are kept: an old value printed late is still a secret).
 */
export class MaskSet {
  private patterns: Pattern[] = [];

  /** Adds `value` under `name` (ignored when shorter than MIN_MASKED_LENGTH); returns whether it is masked. */
  add(name: string, value: string): boolean {
    const variants = new Set([value, value.trim()]);
    let masked = false;
    for (const v of variants) {
      if (Buffer.byteLength(v) < MIN_MASKED_LENGTH) continue;
      masked = true;
      const bytes = Buffer.from(v);
      if (this.patterns.some((p) => p.bytes.equals(bytes))) continue;
      this.patterns.push({ bytes, replacement: Buffer.from(`<redacted:${name}>`) });
    }
    // Longest first: where two values start at the same byte, the longer one is the one to hide.
    this.patterns.sort((a, b) => b.bytes.length - a.bytes.length);
    return masked;
  }

  get size(): number {
    return this.patterns.length;
  }

  /** @internal */
  list(): readonly Pattern[] {
    return this.patterns;
  }
}

/** The streaming masker for one output stream; `push` and `end` return the bytes that are safe to write. */
export class Masker {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly set: MaskSet) {}

  push(chunk: Buffer): Buffer {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const { out, rest } = this.scan(buf, false);
    this.pending = rest;
    return out;
  }

  /** Everything held back, masked as far as it matches whole values. */
  end(): Buffer {
    const { out } = this.scan(this.pending, true);
    this.pending = Buffer.alloc(0);
    return out;
  }

  private scan(buf: Buffer, final: boolean): { out: Buffer; rest: Buffer } {
    const patterns = this.set.list();
    if (patterns.length === 0) return { out: buf, rest: Buffer.alloc(0) };
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      let best: Pattern | undefined;
      let bestAt = -1;
      for (const p of patterns) {
        const at = buf.indexOf(p.bytes, pos);
        // Patterns are sorted longest first, so on a tie the earlier (longer) one stays.
        if (at !== -1 && (bestAt === -1 || at < bestAt)) {
          best = p;
          bestAt = at;
        }
      }
      if (!best) break;
      // A value that starts here or earlier may still complete (a longer one with this one as its prefix, or
      // one overlapping it): that one would win, so wait for the bytes that decide.
      if (!final) {
        const tailAt = buf.length - heldTail(buf, pos, patterns);
        if (tailAt <= bestAt) {
          parts.push(buf.subarray(pos, tailAt));
          return { out: Buffer.concat(parts), rest: Buffer.from(buf.subarray(tailAt)) };
        }
      }
      parts.push(buf.subarray(pos, bestAt), best.replacement);
      pos = bestAt + best.bytes.length;
    }
    const hold = final ? 0 : heldTail(buf, pos, patterns);
    parts.push(buf.subarray(pos, buf.length - hold));
    return { out: Buffer.concat(parts), rest: Buffer.from(buf.subarray(buf.length - hold)) };
  }
}

/** Length of the longest suffix of buf[from..] that is a proper prefix of some pattern. */
function heldTail(buf: Buffer, from: number, patterns: readonly Pattern[]): number {
  let hold = 0;
  for (const p of patterns) {
    const first = p.bytes[0]!;
    const start = Math.max(from, buf.length - (p.bytes.length - 1), 0);
    // The earliest start gives the longest suffix; stop at the first that matches.
    for (let i = start; i < buf.length && buf.length - i > hold; i++) {
      if (buf[i] !== first) continue;
      const len = buf.length - i;
      if (buf.compare(p.bytes, 0, len, i, buf.length) === 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

/** A Transform that masks what flows through it (see Masker). */
export function createMaskStream(set: MaskSet): Transform {
  const masker = new Masker(set);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const out = masker.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      callback(null, out.length ? out : undefined);
    },
    flush(callback: TransformCallback) {
      const out = masker.end();
      callback(null, out.length ? out : undefined);
    },
  });
}
