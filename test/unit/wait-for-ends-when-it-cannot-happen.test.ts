// Developer story: the harness and `make native` wait on servers with waitFor. A server that has exited will not
// answer later: its probe throws WaitFailed and the wait ends with that message at once. Any other error is "not
// yet" (a refused connection while the server starts), retried, and named if the wait times out. A wait that lasts
// says so while it waits, for a user watching `make native` start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, WaitFailed, WaitTimedOut } from '@aurora/process';

test('a WaitFailed from the probe ends the wait at once, with its message', async () => {
  let asked = 0;
  await assert.rejects(
    waitFor(
      'a server that exited',
      () => {
        asked++;
        throw new WaitFailed('vault exited 1: bind: address already in use');
      },
      60_000,
      10,
    ),
    (err: unknown) => err instanceof WaitFailed && /address already in use/.test(err.message),
  );
  assert.equal(asked, 1, 'the probe was asked again after WaitFailed');
});

test('any other error is retried until an answer comes', async () => {
  let asked = 0;
  const v = await waitFor(
    'a server that starts',
    () => {
      if (++asked < 3) throw new Error('ECONNREFUSED');
      return 'up';
    },
    60_000,
    1,
  );
  assert.equal(v, 'up');
  assert.equal(asked, 3);
});

test('a wait that times out names the last error', async () => {
  await assert.rejects(
    waitFor(
      'a server that never starts',
      () => {
        throw new Error('ECONNREFUSED');
      },
      30,
      5,
    ),
    (err: unknown) =>
      err instanceof WaitTimedOut &&
      /timed out after 30 ms waiting for a server that never starts: Error: ECONNREFUSED/.test(err.message) &&
      String(err.lastError) === 'Error: ECONNREFUSED',
  );
});

test('a wait that lasts reports its progress, with the time waited so far', async () => {
  const said: number[] = [];
  let asked = 0;
  await waitFor('a slow server', () => (++asked >= 8 ? 'up' : undefined), 60_000, 5, {
    everyMs: 10,
    onWaiting: (ms) => said.push(ms),
  });
  assert.ok(said.length >= 1, 'no progress was reported');
  assert.ok(
    said.every((ms, i) => ms >= 10 && (i === 0 || ms - (said[i - 1] as number) >= 10)),
    `progress came more often than every 10 ms: ${said.join(', ')}`,
  );
});
