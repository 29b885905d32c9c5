/**
 * Leaves Vault holding an audit device it does not list, the way a vault-init killed mid-request does: an
 * enable request whose connection is cut a few milliseconds in. Vault 1.21 then keeps the device in its audit
 * broker without adding it to its audit table (configure/audit.ts explains it). Timing decides whether a cut
 * lands in that gap, so the helper cuts at random moments until Vault refuses an enable at the path with
 * "backend already registered" while sys/audit does not list it.
 */
import { isBareInternalError, VaultRequestError, type VaultClient } from '@aurora/common';
import { waitFor } from '@aurora/process';

/**
 * `call` once Vault serves it: for a few seconds after a cut-off enable Vault may refuse every audited request
 * with a bare 500 (the half-enabled device cannot write yet, configure/audit.ts).
 */
function served<T>(what: string, call: () => Promise<T>): Promise<T> {
  return waitFor(
    `Vault to serve ${what} again`,
    () =>
      call().catch((err: unknown) => {
        if (isBareInternalError(err)) return undefined;
        throw err;
      }),
    30_000,
    200,
  );
}

/**
 * Leaves an unlisted file audit device at `devicePath` writing to `filePath`; `root` holds a root token. Tries
 * up to `attempts` cut-off enables (each followed by a probe, and a disable when the enable went through);
 * throws if none left one. Returns the number of tries it took.
 */
export async function leaveUnlistedAuditDevice(
  root: VaultClient,
  devicePath: string,
  filePath: string,
  attempts = 400,
): Promise<number> {
  const options = { file_path: filePath, mode: '0660' };
  // Cut points spread over the request's own duration: measured once, as Vault answers it here and now.
  const t0 = performance.now();
  await root.enableAuditDevice(devicePath, 'file', options);
  const enableMs = Math.max(1, performance.now() - t0);
  await root.delete(`sys/audit/${devicePath}`);
  for (let i = 1; i <= attempts; i++) {
    // The client's own deadline destroys the connection, as a killed process's kernel does.
    await root
      .write(`sys/audit/${devicePath}`, { type: 'file', options }, { timeoutMs: Math.random() * enableMs })
      .catch(() => undefined);
    const devices = await served('sys/audit', () => root.auditDevices());
    if (`${devicePath}/` in devices) {
      await root.delete(`sys/audit/${devicePath}`);
      continue;
    }
    const probe = await served(`an enable at ${devicePath}/`, () =>
      root.enableAuditDevice(devicePath, 'file', options).then(
        () => 'enabled' as const,
        (err: unknown) => {
          if (err instanceof VaultRequestError && /backend already registered/.test(err.message))
            return 'held' as const;
          throw err;
        },
      ),
    );
    if (probe === 'held') return i;
    await root.delete(`sys/audit/${devicePath}`);
  }
  throw new Error(`no cut-off enable at ${devicePath}/ left an unlisted device in ${attempts} tries`);
}
