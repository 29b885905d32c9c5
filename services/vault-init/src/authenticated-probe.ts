/**
 * The outcome of vault-init's last authenticated call (own-session.ts probes with lookup-self): health.ts adds
 * it to vault-init's health, so a Vault that is unsealed but refuses every audited request (its audit log
 * cannot be written) makes vault-init unhealthy too, with the cause named.
 */
export interface ProbeResult {
  ok: boolean;
  /** 'ok', or what is wrong (e.g. "Vault refuses requests: its audit log cannot be written — disk full?"). */
  detail: string;
}

let last: ProbeResult = { ok: true, detail: 'not probed yet' };

export function setProbeResult(result: ProbeResult): void {
  last = result;
}

export function probeResult(): ProbeResult {
  return last;
}
