/**
 * The SQL of `credential_references` (migration 001): one row per (user, credential type) holding the
 * `vault:` reference and metadata. No column can hold a value; the CHECK constraint refuses anything that
 * is not a reference.
 *
 * Writes go through a `CredentialLock`: a transaction holding the credential's locks (the write barrier shared,
 * then the per-credential lock; @aurora/common/locks owns both) from before the Vault write until the row is
 * committed. Two writers of the same credential, `doctor --repair` and an online backup's cut all take them
 * there, so none of them sees another's half-done work. The locks die with the session: a crashed app
 * releases them.
 */
import type pg from 'pg';
import { credentialLockKey, credentialLocksFromItem } from '@aurora/common';
import { guardClient, type Db } from '../store/db.js';

export interface CredentialRow {
  userId: string;
  credentialType: string;
  reference: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface DbRow {
  user_id: string;
  credential_type: string;
  reference: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'user_id, credential_type, reference, version, created_at, updated_at';

function toRow(r: DbRow): CredentialRow {
  return {
    userId: r.user_id,
    credentialType: r.credential_type,
    reference: r.reference,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class CredentialStore {
  constructor(private readonly pool: Db) {}

  async get(userId: string, credentialType: string): Promise<CredentialRow | undefined> {
    const res = await this.pool.query<DbRow>({
      name: 'credential_get',
      text: `SELECT ${COLUMNS} FROM credential_references WHERE user_id = $1 AND credential_type = $2`,
      values: [userId, credentialType],
    });
    return res.rows[0] ? toRow(res.rows[0]) : undefined;
  }

  async list(userId: string): Promise<CredentialRow[]> {
    const res = await this.pool.query<DbRow>({
      name: 'credential_list',
      text: `SELECT ${COLUMNS} FROM credential_references WHERE user_id = $1 ORDER BY credential_type`,
      values: [userId],
    });
    return res.rows.map(toRow);
  }

  /** Every row, in pages (doctor). */
  async *all(pageSize = 1000): AsyncGenerator<CredentialRow> {
    let after: [string, string] = ['', ''];
    for (;;) {
      const res = await this.pool.query<DbRow>(
        `SELECT ${COLUMNS} FROM credential_references WHERE (user_id, credential_type) > ($1, $2) ORDER BY user_id, credential_type LIMIT $3`,
        [after[0], after[1], pageSize],
      );
      for (const r of res.rows) yield toRow(r);
      const last = res.rows[res.rows.length - 1];
      if (!last || res.rows.length < pageSize) return;
      after = [last.user_id, last.credential_type];
    }
  }

  /**
   * Begins a transaction holding the credential's advisory locks, and reads its row under them: BEGIN and the
   * locking read go in one round trip (a simple-protocol query of two statements; its values are quoted with
   * the driver's escapeLiteral, and user ids and credential types are safe segments before they get here).
   */
  async lock(userId: string, credentialType: string): Promise<CredentialLock> {
    const client = await this.pool.connect();
    const lock = new CredentialLock(client, userId, credentialType);
    try {
      const q = (v: string) => client.escapeLiteral(v);
      // The locks, in their order, then the row read under them.
      const results = (await client.query(
        `BEGIN; SELECT ${COLUMNS.split(', ')
          .map((c) => `r.${c}`)
          .join(', ')}
                 FROM ${credentialLocksFromItem(q(credentialLockKey(userId, credentialType)))}
                 LEFT JOIN credential_references r ON r.user_id = ${q(userId)} AND r.credential_type = ${q(credentialType)}`,
      )) as unknown as Array<pg.QueryResult<DbRow>>;
      const row = results[1]?.rows[0];
      lock.existing = row && row.user_id !== null ? toRow(row) : undefined;
      return lock;
    } catch (err) {
      lock.release(err);
      throw err;
    }
  }
}

export class CredentialLock {
  existing: CredentialRow | undefined;
  private released = false;
  private readonly releaseClient: (err?: unknown) => void;

  constructor(
    private readonly client: pg.PoolClient,
    readonly userId: string,
    readonly credentialType: string,
  ) {
    this.releaseClient = guardClient(client);
  }

  /**
   * Upserts the row (still uncommitted: `commit` follows). Kept a statement of its own, not sent together with
   * COMMIT: a COMMIT already on its way would commit the row even when the app dies before it decided to, and a
   * process killed between the Vault write and the row must leave at most an orphan that doctor can see.
   */
  async upsert(reference: string, version: number): Promise<{ row: CredentialRow; created: boolean }> {
    const res = await this.client.query<DbRow & { inserted: boolean }>({
      name: 'credential_upsert',
      text: `INSERT INTO credential_references (user_id, credential_type, reference, version)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, credential_type)
             DO UPDATE SET reference = EXCLUDED.reference, version = EXCLUDED.version, updated_at = now()
             RETURNING ${COLUMNS}, (xmax = 0) AS inserted`,
      values: [this.userId, this.credentialType, reference, version],
    });
    const r = res.rows[0] as DbRow & { inserted: boolean };
    return { row: toRow(r), created: r.inserted };
  }

  async delete(): Promise<boolean> {
    const res = await this.client.query({
      name: 'credential_delete',
      text: 'DELETE FROM credential_references WHERE user_id = $1 AND credential_type = $2',
      values: [this.userId, this.credentialType],
    });
    return (res.rowCount ?? 0) > 0;
  }

  async commit(): Promise<void> {
    try {
      await this.client.query('COMMIT');
      this.release();
    } catch (err) {
      this.release(err);
      throw err;
    }
  }

  /** Rolls back (best effort) and returns the connection; a broken connection is discarded. */
  async rollback(): Promise<void> {
    if (this.released) return;
    try {
      await this.client.query('ROLLBACK');
      this.release();
    } catch (err) {
      this.release(err);
    }
  }

  release(err?: unknown): void {
    if (this.released) return;
    this.released = true;
    this.releaseClient(err);
  }
}
