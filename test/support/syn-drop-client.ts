/**
 * Run inside a network namespace where SYNs to 127.0.0.1:<port> are dropped (see the test that starts it): calls
 * that address through the one Vault client, each with a 1 s timeout, and prints one JSON line per call:
 * { call, ms, error } (the error's name and message).
 */
import { VaultClient } from '@aurora/common';

const addr = process.argv[2] as string;
const client = new VaultClient({ addr, token: 'unused', timeoutMs: 1000 });
const calls: Array<[string, () => Promise<unknown>]> = [
  ['read sys/seal-status', () => client.read('sys/seal-status')],
  ['write aurora/data/x', () => client.write('aurora/data/x', { data: { k: 'v' } })],
];
for (const [call, run] of calls) {
  const t0 = Date.now();
  let error = '';
  try {
    await run();
  } catch (err) {
    error = `${(err as Error).name}: ${(err as Error).message}`;
  }
  console.log(JSON.stringify({ call, ms: Date.now() - t0, error }));
}
process.exit(0);
