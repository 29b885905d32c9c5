// Developer story: the harness and `make native` wait on servers with waitFor. A server that has exited will not
// answer later: its probe throws WaitFailed and the wait ends with that message at once. Any other error is "not
// yet" (a refused connection while the server starts), retried, and named if the wait times out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, WaitFailed } from '@aurora/process';

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
    /timed out after 30 ms waiting for a server that never starts: Error: ECONNREFUSED/,
  );
});
