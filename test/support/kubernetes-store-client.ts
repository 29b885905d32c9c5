/**
 * Run under Node >= 22 (@kubernetes/client-node needs it; see the test that starts it): calls vault-init's
 * Kubernetes init store, all at once, against the API addresses it is given, and prints one JSON line per call:
 * { call, ms, name, exitCode, message } (the error's class, exit code and message; an empty name when it
 * succeeded). Arguments: a server that accepts connections and never answers, one that answers every read "not
 * found" and nothing else, one that refuses connections, and the store's per-call deadline in ms.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesSecretInitStore } from '@aurora/vault-init/init-store/kubernetes-secret';
import type { VaultInitError } from '@aurora/vault-init/errors';

const [silent, readsOnly, refusing, deadlineMs] = process.argv.slice(2) as [string, string, string, string];

function store(server: string): KubernetesSecretInitStore {
  const kubeConfig = new KubeConfig();
  // Plain HTTP: the stall comes after the request is sent, where only a request deadline ends it.
  kubeConfig.loadFromClusterAndUser({ name: 'fault', server, skipTLSVerify: true }, { name: 'vault-init' });
  return new KubernetesSecretInitStore({
    name: 'aurora-secrets-vault-init',
    namespace: 'aurora',
    kubeConfig,
    requestTimeoutMs: Number(deadlineMs),
  });
}

/** Stand-ins for the init material: the test checks that no message holds them. */
const material = {
  keys: ['unseal-key-hex-never-printed'],
  keys_base64: ['unseal-key-b64-never-printed'],
  root_token: 'root-token-never-printed',
  shares: 1,
  threshold: 1,
  initialized_at: new Date().toISOString(),
};

const calls: Array<[string, () => Promise<unknown>]> = [
  ['exists, silent API', () => store(silent).exists()],
  ['read, silent API', () => store(silent).read()],
  ['preflight, silent API', () => store(silent).preflight()],
  ['write, silent API', () => store(silent).write(material)],
  ['preflight, writes unanswered', () => store(readsOnly).preflight()],
  ['write, writes unanswered', () => store(readsOnly).write(material)],
  ['exists, connection refused', () => store(refusing).exists()],
];

const results = await Promise.all(
  calls.map(async ([call, run]) => {
    const t0 = performance.now();
    let failure: Partial<VaultInitError> = {};
    try {
      await run();
    } catch (err) {
      failure = err as VaultInitError;
    }
    const ms = Math.round(performance.now() - t0);
    return { call, ms, name: failure.name ?? '', exitCode: failure.exitCode, message: failure.message ?? '' };
  }),
);
for (const r of results) console.log(JSON.stringify(r));
// vault-init exits after such an error too: nothing here waits for the aborted connections to close.
process.exit(0);
