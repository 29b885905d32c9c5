// User story: nothing the services log ever shows a token, a key or a credential value, whatever the call site passes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, redact, redactString, registerSecret } from '@aurora/common';

function capture(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger('test', { json: true });
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('log redaction', () => {
  test('token shapes are masked anywhere in a message', () => {
    const token = 'hvs.CAESIJ' + 'x'.repeat(90);
    assert.equal(redactString(`login ok ${token} done`), 'login ok [REDACTED] done');
    assert.equal(redactString('s.' + 'A'.repeat(24)), '[REDACTED]');
  });

  test('values under secret-named keys are masked, deep and in arrays', () => {
    const out = redact({
      user: 'alice',
      data: { token: 'canary-1' },
      nested: [{ secret_id: 'canary-2', password: 'canary-3' }],
      keys_base64: ['k1'],
      ok: true,
    }) as Record<string, unknown>;
    const text = JSON.stringify(out);
    for (const c of ['canary-1', 'canary-2', 'canary-3', 'k1']) assert.ok(!text.includes(c), `${c} leaked: ${text}`);
    assert.match(text, /alice/);
  });

  test('registered secrets are masked in messages, metadata and error causes', async () => {
    const { logger, lines } = capture();
    registerSecret('unseal-key-canary-0123456789');
    const err = new Error('failed with unseal-key-canary-0123456789', {
      cause: new Error('inner unseal-key-canary-0123456789'),
    });
    logger.warn('about unseal-key-canary-0123456789', { err, note: 'x unseal-key-canary-0123456789' });
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes('unseal-key-canary-0123456789'), lines[0]);
    assert.match(lines[0]!, /REDACTED/);
  });
});
