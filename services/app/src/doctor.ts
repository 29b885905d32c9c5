/**
 * doctor: compares the references in PostgreSQL with the secrets in Vault under
 * `<VAULT_KV_MOUNT>/<VAULT_KV_BASE_PATH>/` and lists what does not match:
 *   - dangling: a row whose current version in Vault cannot be read. Three cases, told apart because only one
 *               of them has nothing left (credentials/recovery.ts): the current version is soft-deleted
 *               (recoverable: doctor prints the `vault kv undelete -versions=N …` command); it is destroyed but an
 *               older version is intact (recoverable: the `vault kv rollback -version=M …` command); nothing is
 *               left (every version destroyed, or the metadata deleted);
 *   - mismatch: a row whose recorded version is not Vault's current version while that version is readable and
 *               holds another value (the same value under a newer number is the app's own undo of a failed
 *               update, consistent). Something changed Vault outside the app (`vault kv rollback`, as doctor
 *               itself advises for a destroyed current version; `vault kv put`; the undelete + rollback doctor
 *               prints), or one store was
 *               restored from an older backup than the other. The value resolved is Vault's current one either way;
 *               the row is what is out of date: `If-Match` is compared with Vault's version, so a client that trusts
 *               the row's number gets 409s. `repair` sets the row to Vault's current version (nothing destroyed);
 *   - orphan:   a secret under the base path that no row references;
 *   - foreign:  a row whose reference is not under the configured mount/base (the resolver refuses it;
 *               doctor cannot check or repair it: a person decides);
 *   - unmanaged: a secret under the base path that is not shaped `<base>/<user_id>/<credential_type>`, such
 *               as the docs' `vault kv put aurora/users/test-secret value=hello`: the app never wrote it, so
 *               it is listed for information, never destroyed, and not counted as a problem.
 *   - damaged:  Vault answers 500 for one entry: a folder it cannot list (a crash left a half-written file
 *               in its storage, see torn-files.ts) or a secret whose metadata it cannot read. doctor goes on
 *               with everything else; a person removes the file (`doctor --torn-files` finds it) or restores
 *               a backup. Counted as a problem, never repaired automatically. Any other failure (403,
 *               sealed or another 503, no answer) still stops the run: "could not check".
 * With `repair`, each mismatched row gets Vault's current version, each dangling row with nothing left is deleted
 * (with the metadata of its destroyed versions), and each orphan is destroyed (all versions and metadata): an
 * orphan is what a write the app never acknowledged left behind. A dangling row whose secret is recoverable is
 * left alone: `repair` never destroys what Vault can still give back; `destroyRecoverable` (asked for by name)
 * deletes the row and destroys every version too.
 * Each repair re-checks under the credential's locks (@aurora/common/locks): the credential's own, which the
 * app's writes hold from the Vault write to the row commit, so a write in progress is never mistaken for an
 * orphan; and the write barrier shared, so that an online backup never cuts the two stores in the middle of a
 * repair. Mostly metadata is read; where a row is behind Vault only in number, the two versions' values are read
 * and compared in memory, never reported, logged or stored.
 */
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import {
  VaultNotFoundError,
  VaultRequestError,
  VaultSealedError,
  VaultUnreachableError,
  currentStack,
  formatCredentialReference,
  isSafeSegment,
  lockCredential,
  parseCredentialReference,
  type KvVersionInfo,
  type StackKind,
  type VaultClient,
} from '@aurora/common';
import type { VaultSession } from './vault/session.js';
import { CredentialStore } from './credentials/store.js';
import { secretState, type SecretCondition } from './credentials/recovery.js';
import { guardClient, type Db } from './store/db.js';

export type FindingKind = 'dangling' | 'mismatch' | 'orphan' | 'damaged' | 'foreign' | 'unmanaged';

export interface Finding {
  kind: FindingKind;
  /** The reference (a row's, or the one an orphan would have). */
  reference: string;
  /** What is wrong, for a person. */
  detail: string;
  /** dangling: what is left in Vault (credentials/recovery.ts). */
  condition?: Exclude<SecretCondition, 'live'>;
  /** dangling and recoverable: the `vault` command that gives the secret back. */
  recover?: string;
  /** mismatch: the version the row records. */
  recordedVersion?: number;
  /** mismatch: Vault's current (readable) version, the one `If-Match` is compared with and `repair` records. */
  vaultVersion?: number;
  /**
   * mismatch: `row-behind` (Vault has a newer version than the row records: a write outside the app, or
   * PostgreSQL restored from an older backup) or `row-ahead` (the row records a version Vault does not have as its
   * current one: Vault restored from an older backup, or its secret deleted and written again).
   */
  direction?: 'row-behind' | 'row-ahead';
  repaired?: boolean;
  error?: string;
}

export interface DoctorReport {
  mount: string;
  base: string;
  references: number;
  secrets: number;
  findings: Finding[];
  dangling: number;
  /** Dangling references whose secret Vault can still give back (each finding carries the command). */
  recoverable: number;
  /** Rows whose recorded version is not Vault's current one (REPAIR=1 records Vault's). */
  mismatched: number;
  orphans: number;
  /** Entries Vault cannot read or list (500): removed by hand, see `damagedDetail`. */
  damaged: number;
  foreign: number;
  unmanaged: number;
  repaired: number;
  /** Problems left after this run (repairs counted as fixed only after a re-check). */
  remaining: number;
}

export interface DoctorOptions {
  pool: Db;
  vault: VaultSession;
  mount: string;
  base: string;
  repair: boolean;
  /** With `repair`: also delete rows whose secret is recoverable, destroying every version. */
  destroyRecoverable?: boolean;
}

/** A dangling finding Vault can still give back. */
const recoverable = (f: Finding) => f.kind === 'dangling' && f.recover !== undefined;

/**
 * Whether versions `a` and `b` of a secret hold the same data. A row that differs from Vault's current version
 * only in number is consistent: the app's own undo of a failed update writes the previous value back as a new
 * version while PostgreSQL, the reason for the undo, cannot record it. A version without data (deleted,
 * destroyed) is never the same. The values stay in this function: compared, never reported.
 */
async function sameValue(vault: VaultSession, mount: string, path: string, a: number, b: number): Promise<boolean> {
  const data = async (version: number) => {
    try {
      return (await steady(() => vault.run((c) => c.kvRead(mount, path, version)))).data;
    } catch (err) {
      if (err instanceof VaultNotFoundError) return undefined;
      throw err;
    }
  };
  const [x, y] = [await data(a), await data(b)];
  return x !== undefined && y !== undefined && isDeepStrictEqual(x, y);
}

async function metadata(vault: VaultSession, mount: string, path: string): Promise<KvVersionInfo | undefined> {
  try {
    return await steady(() => vault.run((c) => c.kvMetadata(mount, path)));
  } catch (err) {
    if (err instanceof VaultNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Vault answered 500 for this one entry because it could not decrypt or decode what its storage holds there
 * (a crash cut a storage write short): Vault's message says so. Other 500s are about the cluster, not the
 * entry ("local node not active but active cluster node not found" from a standby that has not yet found a
 * new active node), and so is everything else (403, sealed or other 503s, no answer).
 */
const STORAGE_DAMAGE =
  /ciphertext|decrypt|could not be decoded|message authentication failed|invalid character|unexpected end of JSON|unexpected EOF|cannot unmarshal|failed to decode/i;

export function damagedEntryError(err: unknown): string | undefined {
  if (!(err instanceof VaultRequestError) || err.vaultStatus !== 500 || !STORAGE_DAMAGE.test(err.message))
    return undefined;
  // Vault's own words, without the "Vault answered 500 for <path>: " prefix and the "1 error occurred:\n\t* …"
  // wrapping of its multierror; Vault's messages name storage problems, never a value.
  const said = err.message
    .replace(/^Vault answered \d+ for [^:]*: /, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s*/, '').trim())
    .filter((l) => l && !/^\d+ errors? occurred:$/.test(l))
    .join('; ');
  return said.slice(0, 200) || 'status 500';
}

/**
 * A few retries (about 8 s in all) for what passes by itself: a node being unsealed, a standby that has not
 * yet found the active node after a failover, a moment without an answer. `make doctor` right after a
 * failover then checks instead of giving up. What looks like a damaged entry is asked once more (a message
 * such as "unexpected EOF" can also come from a request cut off on its way): if it stays, it is damaged.
 */
async function steady<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const damaged = damagedEntryError(err) !== undefined;
      const passing =
        err instanceof VaultSealedError ||
        err instanceof VaultUnreachableError ||
        (err instanceof VaultRequestError && err.vaultStatus >= 500);
      if (!passing || attempt >= (damaged ? 2 : 6)) throw err;
      await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
    }
  }
}

/** Where to look for the file and how to remove it, on either stack (docs/operations.md, "doctor says damaged"). */
const TORN_FILES_NATIVE = 'find .native/vault/data -type f | scripts/doctor.sh --torn-files';
const TORN_FILES_COMPOSE = 'docker exec vault find /vault/file -type f | scripts/doctor.sh --torn-files';
const CUT_FILES_COMPOSE = `docker exec vault find /vault/file -type f ! -empty -exec grep -L '"}$' {} +`;
const RESTORE =
  'or restore a backup (make restore FILE=<archive> CONFIRM=1); docs/operations.md, "doctor says damaged"';

/** The detail of a `damaged` finding: the problem and the manual fix, never a value. */
export function damagedDetail(what: 'folder' | 'secret', vaultSaid: string): string {
  if (what === 'folder') {
    return (
      `Vault answers 500 listing this folder (${vaultSaid}): it cannot decrypt the name of one entry of its storage. ` +
      "A crash (kill -9, power loss) cut a storage write short and left the write's temporary file next to the entries; " +
      'until it is removed nothing in this folder can be listed (its rows are still checked one by one, its orphans go unseen). ' +
      'It is a write Vault never answered: nothing acknowledged is in it. ' +
      `Fix, file storage: list the file with \`${TORN_FILES_NATIVE}\` (compose: \`${TORN_FILES_COMPOSE}\`), ` +
      'remove it (rm <file>; compose: docker exec vault rm <file>), then make doctor REPAIR=1; ' +
      RESTORE
    );
  }
  return (
    `Vault answers 500 reading this secret's metadata (${vaultSaid}): it cannot decrypt this entry of its storage. ` +
    'A crash cut the write of its file short (with file storage: a file system that lost the tail of a write). ' +
    `Fix, file storage: find the file with \`${TORN_FILES_NATIVE}\` (compose: \`${CUT_FILES_COMPOSE}\`), ` +
    'remove it (rm <file>; compose: docker exec vault rm <file>), then make doctor REPAIR=1, which deletes the row that then points at nothing ' +
    '(the credential is lost); ' +
    RESTORE
  );
}

/**
 * Every secret path below `<mount>/<base>/`, recursively (KV v2 lists folders with a trailing `/`), and the folders
 * Vault could not list.
 */
async function listSecrets(
  vault: VaultSession,
  mount: string,
  base: string,
): Promise<{ secrets: string[]; damaged: Array<{ folder: string; said: string }> }> {
  const out: string[] = [];
  const damaged: Array<{ folder: string; said: string }> = [];
  const walk = async (prefix: string, depth: number): Promise<void> => {
    let keys: string[];
    try {
      keys = await steady(() => vault.run((c: VaultClient) => c.kvList(mount, prefix)));
    } catch (err) {
      const said = damagedEntryError(err);
      if (said === undefined) throw err;
      damaged.push({ folder: `${prefix}/`, said });
      return;
    }
    for (const key of keys) {
      const name = key.endsWith('/') ? key.slice(0, -1) : key;
      // A name node-vault could not safely put into a URL: report it, do not follow it.
      if (!isSafeSegment(name)) {
        out.push(`${prefix}/${name}${key.endsWith('/') ? '/' : ''}`);
        continue;
      }
      if (key.endsWith('/') && depth < 8) await walk(`${prefix}/${name}`, depth + 1);
      else out.push(`${prefix}/${name}`);
    }
  };
  await walk(base, 0);
  return { secrets: out.sort(), damaged };
}

export async function scan(options: DoctorOptions): Promise<DoctorReport> {
  const { pool, vault, mount, base } = options;
  const store = new CredentialStore(pool);
  const findings: Finding[] = [];
  const referenced = new Set<string>();
  let references = 0;
  for await (const row of store.all()) {
    references++;
    let ours = false;
    try {
      const ref = parseCredentialReference(row.reference);
      ours =
        ref.mount === mount &&
        ref.base === base &&
        ref.userId === row.userId &&
        ref.credentialType === row.credentialType;
    } catch {
      ours = false;
    }
    if (!ours) {
      findings.push({
        kind: 'foreign',
        reference: row.reference,
        detail: `row (${row.userId}, ${row.credentialType}) does not point at ${mount}/${base}/${row.userId}/${row.credentialType}`,
      });
      continue;
    }
    const path = `${base}/${row.userId}/${row.credentialType}`;
    referenced.add(path);
    let meta: KvVersionInfo | undefined;
    try {
      meta = await metadata(vault, mount, path);
    } catch (err) {
      const said = damagedEntryError(err);
      if (said === undefined) throw err;
      findings.push({ kind: 'damaged', reference: row.reference, detail: damagedDetail('secret', said) });
      continue;
    }
    const state = secretState(meta, mount, path);
    if (state.condition !== 'live') {
      findings.push({
        kind: 'dangling',
        reference: row.reference,
        detail: state.detail,
        condition: state.condition,
        ...(state.command ? { recover: state.command } : {}),
      });
    } else if (state.current !== row.version && !(await sameValue(vault, mount, path, row.version, state.current))) {
      findings.push(mismatchFinding(row.reference, row.version, state.current));
    }
  }
  const { secrets, damaged } = await listSecrets(vault, mount, base);
  for (const { folder, said } of damaged) {
    findings.push({
      kind: 'damaged',
      reference: `vault:kv/data/${mount}/${folder}`,
      detail: damagedDetail('folder', said),
    });
  }
  for (const path of secrets) {
    if (referenced.has(path)) continue;
    const rel = path.slice(base.length + 1).split('/');
    const credentialShaped = rel.length === 2 && rel.every((seg) => isSafeSegment(seg));
    findings.push(
      credentialShaped
        ? {
            kind: 'orphan',
            reference: `vault:kv/data/${mount}/${path}`,
            detail: 'secret in Vault without a reference row',
          }
        : {
            kind: 'unmanaged',
            reference: `vault:kv/data/${mount}/${path}`,
            detail: `not a credential path (${base}/<user_id>/<credential_type>); left alone`,
          },
    );
  }
  return summarize(mount, base, references, secrets.length, findings);
}

/**
 * The finding for a row recording `recorded` while Vault's current, readable version is `current`: which way they
 * disagree, what probably caused it, and what to do. Never a value.
 */
export function mismatchFinding(reference: string, recorded: number, current: number): Finding {
  const behind = recorded < current;
  const cause = behind
    ? 'Vault has a newer version than the row records: it was written outside the app (vault kv rollback, ' +
      'vault kv put, an undelete followed by a rollback) or PostgreSQL was restored from an older backup'
    : 'the row records a version Vault does not have as its current one: Vault was restored from an older ' +
      'backup than PostgreSQL, or the secret was deleted in Vault and written again';
  return {
    kind: 'mismatch',
    reference,
    recordedVersion: recorded,
    vaultVersion: current,
    direction: behind ? 'row-behind' : 'row-ahead',
    detail:
      `the row records version ${recorded}, Vault's current version is ${current} (${cause}); resolve serves ` +
      `version ${current} and If-Match is compared with it. Check that version ${current} is the value you want ` +
      `(vault kv metadata get shows every version); make doctor REPAIR=1 records version ${current} in the row ` +
      '(nothing is destroyed)',
  };
}

function summarize(
  mount: string,
  base: string,
  references: number,
  secrets: number,
  findings: Finding[],
): DoctorReport {
  const count = (k: FindingKind) => findings.filter((f) => f.kind === k).length;
  const repaired = findings.filter((f) => f.repaired).length;
  return {
    mount,
    base,
    references,
    secrets,
    findings,
    dangling: count('dangling'),
    recoverable: findings.filter(recoverable).length,
    mismatched: count('mismatch'),
    orphans: count('orphan'),
    damaged: count('damaged'),
    foreign: count('foreign'),
    unmanaged: count('unmanaged'),
    repaired,
    remaining: findings.filter((f) => !f.repaired && f.kind !== 'unmanaged').length,
  };
}

/** Runs `fn` in a transaction holding the credential's locks: the write barrier (shared) and its own. */
async function underLock<T>(pool: Db, userId: string, type: string, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  const release = guardClient(db);
  try {
    await db.query('BEGIN');
    await lockCredential(db, userId, type);
    const result = await fn(db);
    await db.query('COMMIT');
    release();
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    release(err);
    throw err;
  }
}

async function repairOne(options: DoctorOptions, finding: Finding): Promise<void> {
  const { pool, vault, mount, base } = options;
  const path = finding.reference.slice(`vault:kv/data/${mount}/`.length);
  const parts = path.slice(base.length + 1).split('/');
  // Only credential-shaped paths are ever repaired (scan() makes the others foreign or unmanaged).
  if (parts.length !== 2 || !parts.every((p) => isSafeSegment(p)))
    throw new Error('not a credential path; remove it with the vault CLI');
  const [userId, type] = parts as [string, string];
  if (finding.kind === 'orphan') {
    await underLock(pool, userId, type, async (db) => {
      const row = await db.query('SELECT 1 FROM credential_references WHERE user_id = $1 AND credential_type = $2', [
        userId,
        type,
      ]);
      if (row.rowCount) throw new Error('a reference row appeared meanwhile; not an orphan any more');
      await vault.run((c) => c.kvDestroyAll(mount, path));
    });
    return;
  }
  if (finding.kind === 'mismatch') {
    await underLock(pool, userId, type, async (db) => {
      // Re-read under the lock: a write through the app may have brought the two together meanwhile.
      const state = secretState(await metadata(vault, mount, path), mount, path);
      if (state.condition !== 'live') throw new Error('the current version is no longer readable in Vault');
      await db.query(
        `UPDATE credential_references SET version = $4, updated_at = now()
          WHERE user_id = $1 AND credential_type = $2 AND reference = $3 AND version <> $4`,
        [userId, type, formatCredentialReference({ mount, base, userId, credentialType: type }), state.current],
      );
    });
    return;
  }
  if (finding.kind === 'dangling') {
    await underLock(pool, userId, type, async (db) => {
      const meta = await metadata(vault, mount, path);
      const state = secretState(meta, mount, path);
      if (state.condition === 'live') throw new Error('the secret is back in Vault; not dangling any more');
      if (state.command && !options.destroyRecoverable)
        throw new Error(`recoverable now (${state.command}); left alone`);
      await db.query(
        'DELETE FROM credential_references WHERE user_id = $1 AND credential_type = $2 AND reference = $3',
        [userId, type, formatCredentialReference({ mount, base, userId, credentialType: type })],
      );
      // Destroyed versions left behind would become an orphan: remove their metadata too. With
      // destroyRecoverable this also destroys what could have been given back, as asked.
      if (meta) await vault.run((c) => c.kvDestroyAll(mount, path));
    });
  }
}

/** Scans; with `repair`, repairs what it can, then scans again so the report says what is really left. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const first = await scan(options);
  const repairable = (f: Finding) =>
    f.kind === 'orphan' ||
    f.kind === 'mismatch' ||
    (f.kind === 'dangling' && (!recoverable(f) || options.destroyRecoverable === true));
  if (!options.repair || !first.findings.some(repairable)) return first;
  for (const finding of first.findings) {
    if (!repairable(finding)) continue;
    try {
      await repairOne(options, finding);
    } catch (err) {
      finding.error = (err as Error).message;
    }
  }
  const second = await scan(options);
  const left = new Set(second.findings.map((f) => `${f.kind} ${f.reference}`));
  for (const f of first.findings) f.repaired = repairable(f) && !left.has(`${f.kind} ${f.reference}`);
  // Problems that appeared between the two scans are reported too.
  const known = new Set(first.findings.map((f) => `${f.kind} ${f.reference}`));
  const fresh = second.findings.filter((f) => !known.has(`${f.kind} ${f.reference}`));
  return summarize(options.mount, options.base, second.references, second.secrets, [...first.findings, ...fresh]);
}

/**
 * How the printed `vault` commands are run on the stack doctor runs in (AURORA_STACK; docs/operations.md, "doctor
 * says dangling").
 */
export function vaultCliHint(kind: StackKind = currentStack()): string {
  if (kind === 'native') return 'run it after `set -a; . .native/env; set +a` (the vault CLI with the operator token)';
  if (kind === 'kubernetes') return 'run it in a Vault pod: kubectl exec -it <release>-vault-0 -- <command>';
  return 'run it in the vault container: docker exec vault <command> (HA: docker exec vault-1 <command>)';
}

/**
 * The report for a person. `repair` and `destroyRecoverable` are what this run was asked to do (they choose
 * the state shown next to each finding and the hints below them).
 */
export function formatReport(report: DoctorReport, repair: boolean, destroyRecoverable = false): string {
  const lines = [
    `doctor: vault:kv/data/${report.mount}/${report.base}/ in Vault against table credential_references in PostgreSQL`,
  ];
  for (const f of report.findings) {
    const state = f.repaired
      ? 'repaired'
      : f.error
        ? `NOT repaired: ${f.error}`
        : recoverable(f) && repair && !destroyRecoverable
          ? 'left alone: recoverable'
          : repair && (f.kind === 'dangling' || f.kind === 'orphan' || f.kind === 'mismatch')
            ? 'NOT repaired'
            : repair && f.kind === 'damaged'
              ? 'left alone: fix it by hand'
              : '';
    lines.push(`  ${f.kind.padEnd(8)} ${f.reference}  (${f.detail})${state ? `  [${state}]` : ''}`);
  }
  lines.push(
    `summary: ${report.references} references, ${report.secrets} secrets; ${report.dangling} dangling${report.recoverable ? ` (${report.recoverable} recoverable)` : ''}${report.mismatched ? `, ${report.mismatched} version mismatch${report.mismatched === 1 ? '' : 'es'}` : ''}, ${report.orphans} orphaned, ${report.damaged} damaged, ${report.foreign} foreign, ${report.unmanaged} unmanaged; ${report.repaired} repaired, ${report.remaining} remaining`,
  );
  const left = report.findings.filter((f) => !f.repaired);
  const recover = left.filter(recoverable);
  if (recover.length) {
    lines.push(
      `recoverable: Vault still holds ${recover.length === 1 ? 'this secret' : 'these secrets'}; give ${recover.length === 1 ? 'it' : 'them'} back with the command${recover.length === 1 ? '' : 's'} below (${vaultCliHint()}), then make doctor:`,
    );
    for (const f of recover) lines.push(`  ${f.recover}`);
    lines.push(
      '  or give them up: make doctor REPAIR=1 DESTROY_RECOVERABLE=1 deletes their rows and destroys every version (not undoable)',
    );
  }
  const fixable = left.filter(
    (f) => f.kind === 'orphan' || f.kind === 'mismatch' || (f.kind === 'dangling' && !recoverable(f)),
  );
  if (fixable.length && !repair)
    lines.push(
      "fix: make doctor REPAIR=1 (records Vault's current version in mismatched rows, deletes the dangling rows with nothing left in Vault and destroys the orphans; never what is recoverable)",
    );
  if (report.damaged > 0)
    lines.push(
      'damaged entries are never repaired automatically: find and remove the file as their line says (docs/operations.md, "doctor says damaged"), then make doctor REPAIR=1',
    );
  if (report.foreign > 0)
    lines.push(
      'foreign references are not repaired automatically: check VAULT_KV_MOUNT / VAULT_KV_BASE_PATH, or delete those rows by hand',
    );
  return lines.join('\n');
}
