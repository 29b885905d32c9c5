// User story: as an operator restoring a Raft snapshot or losing the active node, I do not see vault-init exit
// because Vault answered "leadership lost while committing log" in the seconds between two leaders; nor, after
// vault-init was killed mid-request, because Vault refused requests it could not audit for a few seconds (a bare
// 500 "internal error"). Each setup step runs again until the state has passed, and says once that it waits,
// naming the state. Any other error ends the step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { VaultRequestError } from '@aurora/common';
import { step } from '@aurora/vault-init/setup';

function capture(): { logger: winston.Logger; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const out: string[] = [];
  stream.on('data', (chunk: Buffer) => out.push(...chunk.toString().split('\n').filter(Boolean)));
  const logger = winston.createLogger({
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const leadershipLost = () =>
  new VaultRequestError('sys/policies/acl/aurora-app', 500, 'leadership lost while committing log');

test('a step that meets a leader change runs again and succeeds; one warning, the retries counted', async () => {
  const { logger, lines } = capture();
  let calls = 0;
  const result = await step(logger, 'configure', async () => {
    calls++;
    if (calls < 3) throw leadershipLost();
    return 'configured';
  });
  assert.equal(result, 'configured');
  assert.equal(calls, 3);
  await new Promise<void>((resolve) => setImmediate(resolve));
  const warnings = lines().filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(String(warnings[0]!.message), /step configure: Vault's Raft cluster is changing leaders/);
  const done = lines().find((l) => l.message === 'step configure done');
  assert.equal(done?.retries, 2);
});

test('a step that meets Vault refusing what it cannot audit runs again; the warning names the audit log', async () => {
  const { logger, lines } = capture();
  let calls = 0;
  const result = await step(logger, 'configure', async () => {
    calls++;
    if (calls < 2) throw new VaultRequestError('sys/audit', 500, 'internal error');
    return 'configured';
  });
  assert.equal(result, 'configured');
  await new Promise<void>((resolve) => setImmediate(resolve));
  const warnings = lines().filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(
    String(warnings[0]!.message),
    /step configure: .*refuses requests it cannot audit.*retrying for up to 60 s/,
  );
  assert.equal(lines().find((l) => l.message === 'step configure done')?.retries, 1);
});

for (const [what, err] of [
  ['a refusal', new VaultRequestError('sys/policies/acl/aurora-app', 403, 'permission denied')],
  ['a 500 that names what broke', new VaultRequestError('aurora/data/x', 500, 'invalid ciphertext')],
  ['a 400', new VaultRequestError('sys/audit/file', 400, 'path already in use')],
] as const) {
  test(`any other error ends the step at once: ${what}`, async () => {
    const { logger } = capture();
    let calls = 0;
    await assert.rejects(
      step(logger, 'configure', async () => {
        calls++;
        throw err;
      }),
      (e) => e === err,
    );
    assert.equal(calls, 1);
  });
}

test('a transition that outlasts the retry window is thrown, naming Vault', async () => {
  const { logger } = capture();
  let calls = 0;
  await assert.rejects(
    step(
      logger,
      'configure',
      async () => {
        calls++;
        throw leadershipLost();
      },
      undefined,
      1500,
    ),
    /step configure: Vault's Raft cluster is changing leaders; it did not pass within 1.5 s. Vault's last answer: Vault answered 500 .*leadership lost/,
  );
  assert.ok(calls >= 2 && calls <= 3, `ran ${calls} times in a 1.5 s window`);
});

test('a long wait says how long it has waited, every ten retries', async () => {
  const { logger, lines } = capture();
  await assert.rejects(
    step(
      logger,
      'configure',
      async () => {
        throw new VaultRequestError('sys/audit', 500, 'internal error');
      },
      undefined,
      400,
      10,
    ),
    /refuses requests it cannot audit.*did not pass within 0.4 s/,
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  const warnings = lines().filter((l) => l.level === 'warn');
  assert.match(String(warnings[0]!.message), /retrying for up to 0.4 s/);
  assert.ok(warnings.length >= 2, `${warnings.length} warnings`);
  for (const w of warnings.slice(1))
    assert.match(String(w.message), /still waiting, \d+ s of 0.4 s: Vault answers 500/);
});
