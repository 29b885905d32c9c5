/**
 * The PostgreSQL advisory locks that keep Vault and PostgreSQL consistent with each other, and the one place
 * that knows their keys and the order they are taken in. The app's credential writes, `doctor --repair` and the
 * online backup's cut all go through here; nobody else writes `pg_advisory_*` for these keys.
 *
 * Two locks, in the two-int key space (the migration runner alone uses the one-bigint space):
 *  - the WRITE BARRIER, one key: anything that changes a credential in Vault and PostgreSQL (a write, a delete,
 *    a repair) holds it SHARED for the whole span, from before its Vault call until its row commits. An online
 *    backup takes it EXCLUSIVELY for the instant it cuts Vault's snapshot and PostgreSQL's: it waits for the
 *    changes in flight and queues new ones (they wait, they do not fail), so no change is half done at the cut.
 *  - the CREDENTIAL LOCK, one key per `<user_id>/<credential_type>`: two writers of one credential, and a
 *    repair of it, never see each other's half-done work (a repair never destroys a secret whose row is about
 *    to be committed).
 * Order: the barrier first, then the credential, always: no one ever waits for the barrier while holding a
 * credential another one needs, so a backup waiting for the barrier cannot deadlock with two writers.
 * Both are transaction-scoped for the app and doctor (`pg_advisory_xact_lock*`): they die with the
 * transaction or the session, so a crashed process releases them.
 *
 * Plain SQL text and a minimal query interface: this module is imported by the app (node-postgres) and by the
 * backup scripts (a psql session), and depends on neither.
 */

/** The migration runner's lock (one-bigint key space): one app instance migrates at a time. */
export const MIGRATION_LOCK = 7261001;

/** The two-int class of the per-credential locks; the object is `hashtext('<user_id>/<credential_type>')`. */
export const CREDENTIAL_LOCK_CLASS = 7261002;

/** The write barrier's two-int key. */
export const WRITE_BARRIER = { classId: 7261003, objectId: 0 } as const;

/** The text a credential's lock is keyed on: its path below the base, `<user_id>/<credential_type>`. */
export function credentialLockKey(userId: string, credentialType: string): string {
  return `${userId}/${credentialType}`;
}

/**
 * A FROM item that takes, in this order, the write barrier shared and the credential's lock, both for the rest
 * of the transaction. `keyParam` is the placeholder holding `credentialLockKey(...)`, e.g. `$1`. PostgreSQL
 * evaluates a target list left to right, so one round trip takes both in the right order; a caller can join
 * the row it needs to read under the lock.
 */
export function credentialLocksFromItem(keyParam: string): string {
  return (
    `(SELECT pg_advisory_xact_lock_shared(${WRITE_BARRIER.classId}, ${WRITE_BARRIER.objectId}), ` +
    `pg_advisory_xact_lock(${CREDENTIAL_LOCK_CLASS}, hashtext(${keyParam}))) AS credential_locks`
  );
}

/** What `lockCredential` needs of a PostgreSQL client (node-postgres' `PoolClient` is one). */
export interface LockQueryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/**
 * Takes the write barrier (shared) and the credential's lock inside the transaction `db` has begun; both are
 * held until it commits or rolls back. Waits (it does not fail) while a backup holds the barrier or another
 * writer holds the credential.
 */
export async function lockCredential(db: LockQueryable, userId: string, credentialType: string): Promise<void> {
  await db.query(`SELECT 1 FROM ${credentialLocksFromItem('$1')}`, [credentialLockKey(userId, credentialType)]);
}

/**
 * The backup's side, as session-level SQL: take the barrier exclusively (waits for every change in flight,
 * then holds new ones back) and release it. Session-level, so that the cut's own transaction (the exported
 * snapshot) can begin and end inside it.
 */
export const BARRIER_EXCLUSIVE_SQL = `SELECT pg_advisory_lock(${WRITE_BARRIER.classId}, ${WRITE_BARRIER.objectId})`;
export const BARRIER_RELEASE_SQL = `SELECT pg_advisory_unlock(${WRITE_BARRIER.classId}, ${WRITE_BARRIER.objectId})`;

/** The migration runner's lock and unlock (session-level: it spans several transactions). */
export const MIGRATION_LOCK_SQL = `SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
export const MIGRATION_UNLOCK_SQL = `SELECT pg_advisory_unlock(${MIGRATION_LOCK})`;
