// User story: PostgreSQL is killed -9 while API clients write credentials (some writes are between their
// Vault write and their row commit). While it is gone they get 503 with Retry-After; when it is back the
// same app process acknowledges writes again. `doctor --repair` then leaves nothing dangling or orphaned,
// every write acknowledged with 2xx is readable (resolve, and Vault itself), and no value leaked.
import { faultSuite, sleep } from './suite.js';
import type { PostgresServer } from '@aurora/process';

/** After kill -9 of the postmaster its backends exit on their own a moment later; until then a new start may fail. */
async function restart(pg: PostgresServer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await pg.startProcess();
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(500);
    }
  }
}

faultSuite({
  id: 'postgres-kill9',
  title: 'kill -9 of PostgreSQL during writes',
  async scenario({ stack, fault }) {
    await fault(
      'PostgreSQL killed -9, then restarted',
      () => stack.postgres.kill(),
      () => restart(stack.postgres),
      2500,
    );
  },
});
