/**
 * How long the one Vault client waits for an answer, by kind of call (all in ms). A call that outlasts its
 * timeout becomes a VaultUnreachableError naming the path and the time waited.
 */

/** Calls Vault answers from memory: long enough for a busy machine, short enough that a stalled Vault is a 503. */
export const VAULT_REQUEST_TIMEOUT_MS = 5000;

/**
 * Calls that wait on Vault's own work, and answer only when it is done: sys/init, sys/unseal and
 * sys/storage/raft/join (Vault holds its state lock meanwhile: the key that completes the unseal threshold sets
 * up the barrier and, on Raft, the node's cluster), and the database engine's calls that run statements on
 * PostgreSQL before answering (creds, rotate-root, and writing a connection, which Vault verifies). On a busy
 * machine they outlast the per-request timeout that exists to notice a stalled Vault. None of them is on a
 * request's path. 60 s is the Vault CLI's own client timeout (hashicorp/vault api/client.go, DefaultConfig:
 * `Timeout: time.Second * 60`).
 */
export const VAULT_WORK_TIMEOUT_MS = 60_000;

/** A snapshot save or restore: a large store on a slow disk. */
export const VAULT_SNAPSHOT_TIMEOUT_MS = 300_000;
