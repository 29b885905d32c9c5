/**
 * The commands a message tells the user to run, for the stack the user runs: `docker logs vault` means nothing on
 * `make native`, where the same log is `.native/logs/vault.log`. Which stack a process belongs to is the
 * `AURORA_STACK` setting: `compose` (the default, what the images ship), `native` (set by `make native` for the
 * app, vault-init and doctor) or `kubernetes` (set by the Helm chart).
 *
 * Read from the environment here rather than passed down, because the messages that need it are built deep in
 * shared code (the Vault client's errors) that never sees a service's configuration; each service declares the
 * setting in its schema, so a wrong value still stops it at start with the variable's name (STACK_SETTING in
 * settings.ts).
 */

export const STACK_KINDS = ['compose', 'native', 'kubernetes'] as const;
export type StackKind = (typeof STACK_KINDS)[number];

/** The stack of this process, from `AURORA_STACK` (unset or unknown: compose, the images' default). */
export function currentStack(env: NodeJS.ProcessEnv = process.env): StackKind {
  const v = env.AURORA_STACK;
  return (STACK_KINDS as readonly string[]).includes(v ?? '') ? (v as StackKind) : 'compose';
}

export interface StackCommands {
  kind: StackKind;
  /** Where the log of `service` (vault, vault-init, app, vault-agent) is read: a command or a file. */
  logs(service: string): string;
  /** The `vault` CLI with the operator's token, as a prefix: `${vaultCli} kv put …`. */
  vaultCli: string;
  /** Where Vault's audit log lives. */
  auditLog: string;
}

/** The commands for `kind` (default: this process's stack). */
export function stackCommands(kind: StackKind = currentStack()): StackCommands {
  switch (kind) {
    case 'native':
      return {
        kind,
        logs: (service) => `.native/logs/${service}.log`,
        vaultCli: 'set -a; . .native/env; set +a; vault',
        auditLog: '.native/logs/audit.log',
      };
    case 'kubernetes':
      return {
        kind,
        logs: (service) => `kubectl logs <the ${service} pod>${service === 'app' ? ' -c app' : ''}`,
        vaultCli: 'kubectl exec -it <release>-vault-0 -- vault',
        auditLog: "the Vault pods' audit volume",
      };
    default:
      return {
        kind: 'compose',
        // The app's container name depends on the compose project; `make logs` finds it.
        logs: (service) => (service === 'app' ? 'make logs' : `docker logs ${service}`),
        vaultCli: 'docker exec vault vault',
        auditLog: 'the vault-logs volume',
      };
  }
}
