// User story: as an operator whose Vault was killed in the middle of a write, `doctor` tells me which entry Vault
// can no longer read (damaged) instead of giving up, and `doctor --torn-files` names the one file in Vault's
// storage to remove: the temporary file of the write Vault never finished (its name is not an encrypted KV
// key name), or an entry whose content is cut short; never a whole entry, never a file outside KV metadata.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  VaultForbiddenError,
  VaultNotFoundError,
  VaultRequestError,
  VaultSealedError,
  VaultUnreachableError,
} from '@aurora/common';
import {
  base62Bytes,
  isEncryptedKeyName,
  isWholeEntry,
  storagePaths,
  strayOwner,
  tornFile,
} from '@aurora/app/torn-files';
import { damagedDetail, damagedEntryError, formatReport, type DoctorReport } from '@aurora/app/doctor';

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Go's big.Int SetBytes(b).Text(62): what KV v2 names a metadata file after (keysutil EncryptedKeyStorage). */
function base62(bytes: Buffer): string {
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out || '0';
}
/** An encrypted key segment as keysutil writes it: `1:` + base64(12-byte nonce, the segment, 16-byte tag). */
const encryptedName = fc
  .uint8Array({ minLength: 29, maxLength: 120 })
  .map((b) => base62(Buffer.from(`1:${Buffer.from(b).toString('base64')}`, 'latin1')));
const tempDigits = fc.integer({ min: 0, max: 0xffffffff }).map(String); // os.CreateTemp: uint32 in decimal

// Names from a real Vault 1.21.4 data dir: a folder, a credential's entry, and the stray a kill -9 left there.
const MOUNT = 'logical/a4bf387f-f338-3d51-2ca9-5932dbc8614a/34324a3c-d942-2188-517a-56795bcd71e2';
const FOLDER = `${MOUNT}/metadata/5kKE7otoRFXFWLJosaWoFFKEWnItqlAZjFW82xewnClJf7MZh0pQwWxeRuM9OT/1TfxwzPQqnBjpqVVowCma9jhy8b0R5CeNDo9VQdBukQU7FBOPBI7jiZ9O32390vNsQE4e0XRh`;
const ENTRY = '_5kKSfKN25uHLZc9MrCabdZjiorU9n9QgWbQBIFOFihJPZxQxMXsrpQkI6AEjMx';
const STRAY = `${ENTRY}2358448399`;
const WHOLE = Buffer.from(`{"Value":"${Buffer.alloc(300, 7).toString('base64')}"}\n`);

describe("torn files in Vault's file storage", () => {
  test('real KV v2 names decode to <key version>:<base64>; the stray a kill -9 left does not', () => {
    assert.equal(base62Bytes(ENTRY.slice(1))?.toString('latin1').slice(0, 2), '1:');
    assert.ok(isEncryptedKeyName(ENTRY.slice(1)));
    assert.ok(isEncryptedKeyName(FOLDER.split('/').pop()!));
    assert.ok(!isEncryptedKeyName(STRAY.slice(1)));
    assert.equal(strayOwner(STRAY), ENTRY);
    assert.equal(strayOwner(ENTRY), undefined);
  });

  test("base62Bytes is the inverse of Go's Text(62); anything outside 0-9a-zA-Z is no name at all", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 80 }).filter((b) => b[0] !== 0),
        (b) => {
          assert.deepEqual(base62Bytes(base62(Buffer.from(b))), Buffer.from(b));
        },
      ),
    );
    for (const bad of ['', 'abc-def', 'abc_def', 'ab/c', 'é']) assert.equal(base62Bytes(bad), undefined, bad);
  });

  test("every encrypted name is whole; the same name plus the temp file's digits never is, and points back at it", () => {
    fc.assert(
      fc.property(encryptedName, tempDigits, (name, digits) => {
        assert.ok(isEncryptedKeyName(name));
        assert.ok(!isEncryptedKeyName(name + digits));
        assert.equal(strayOwner(`_${name}${digits}`), `_${name}`);
        assert.equal(tornFile(`/vault/file/${FOLDER}/_${name}`), undefined);
        assert.equal(tornFile(`/vault/file/${FOLDER}/_${name}${digits}`)?.kind, 'stray');
      }),
      { numRuns: 300 },
    );
  });

  test('a stray is found empty or complete, by name, with or without its content', () => {
    for (const content of [undefined, Buffer.alloc(0), WHOLE]) {
      const t = tornFile(`.native/vault/data/${FOLDER}/${STRAY}`, content);
      assert.equal(t?.kind, 'stray');
      assert.equal(t?.entry, ENTRY);
      assert.match(t!.detail, /never finished/);
    }
    assert.equal(tornFile(`/vault/file/${FOLDER}/${ENTRY}`, WHOLE), undefined);
  });

  test('only KV v2 metadata trees are checked by name: versions, core, a cubbyhole path are left alone', () => {
    for (const p of [
      `/vault/file/${MOUNT}/versions/53b/_4e8fd40c4beab9b7ee76ec7a8fbfd5b085a9b0b0b26de231b02e7be08b02d1913122320`,
      `/vault/file/${MOUNT}/policy/_metadata`,
      '/vault/file/core/_keyring1234',
      '/vault/file/logical/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab/4a7d0f3c9e/metadata/_plain-name',
    ])
      assert.equal(tornFile(p), undefined, p);
  });

  test('content: a whole entry passes; cut short, garbled or without Value is truncated; an empty file is Vault\'s "absent"', () => {
    assert.ok(isWholeEntry(WHOLE));
    assert.ok(isWholeEntry(Buffer.from(WHOLE.toString().trimEnd())));
    for (const cut of [
      WHOLE.subarray(0, 150),
      WHOLE.subarray(0, WHOLE.length - 3),
      Buffer.from('{"value":"AAAA"}'),
      Buffer.from('{"Value":"not base64!"}'),
      Buffer.from('\0\0\0'),
    ]) {
      assert.ok(!isWholeEntry(cut));
      assert.equal(tornFile(`/data/${MOUNT}/versions/53b/_abc`, cut)?.kind, 'truncated');
      assert.equal(tornFile(`/data/${FOLDER}/${ENTRY}`, cut)?.kind, 'truncated');
    }
    assert.equal(tornFile(`/data/${FOLDER}/${ENTRY}`, Buffer.alloc(0)), undefined);
  });

  test('find output: one path a line, blank lines and CRs dropped', () => {
    assert.deepEqual(storagePaths('a/_b\r\n\n  \nc/_d\n'), ['a/_b', 'c/_d']);
    assert.deepEqual(storagePaths(''), []);
  });
});

describe('doctor: which Vault failures are a damaged entry', () => {
  const listError = new VaultRequestError(
    'aurora/metadata/users/vault-kill9',
    500,
    '1 error occurred:\n\t* invalid ciphertext: wrong number of fields\n\n',
  );

  test("a 500 that says Vault cannot decode its storage is damaged, with Vault's own words; other 500s, 403, 404, sealed, other 503s, no answer are not", () => {
    assert.equal(damagedEntryError(listError), 'invalid ciphertext: wrong number of fields');
    assert.equal(
      damagedEntryError(
        new VaultRequestError(
          'p',
          500,
          '2 errors occurred:\n\t* invalid ciphertext: version number could not be decoded\n\t* b\n\n',
        ),
      ),
      'invalid ciphertext: version number could not be decoded; b',
    );
    for (const err of [
      // A standby right after a failover (seen in the compose HA e2e): about the cluster, not about an entry.
      new VaultRequestError(
        'p',
        500,
        '1 error occurred:\n\t* local node not active but active cluster node not found\n\n',
      ),
      new VaultRequestError('p', 500, 'status 500'),
      new VaultForbiddenError('p'),
      new VaultNotFoundError('p'),
      new VaultSealedError(),
      new VaultUnreachableError('http://x'),
      new VaultRequestError('p', 503, 'Vault is sealed'),
      new VaultRequestError('p', 502, 'bad gateway'),
      new VaultRequestError('p', 400, 'no'),
      new Error('ECONNRESET'),
    ]) {
      assert.equal(damagedEntryError(err), undefined, err.message);
    }
  });

  test('the detail names the problem and the manual fix on both stacks, and the text report counts it as remaining', () => {
    for (const what of ['folder', 'secret'] as const) {
      const d = damagedDetail(what, 'invalid ciphertext: wrong number of fields');
      for (const part of [
        'cannot decrypt',
        'crash',
        '.native/vault/data',
        'docker exec vault find /vault/file',
        'docker exec vault rm',
        'make doctor REPAIR=1',
        'make restore',
      ]) {
        assert.ok(d.includes(part), `${what}: ${part}`);
      }
    }
    assert.match(damagedDetail('folder', 'x'), /scripts\/doctor\.sh --torn-files/);
    const report: DoctorReport = {
      mount: 'aurora',
      base: 'users',
      references: 3,
      secrets: 2,
      dangling: 0,
      recoverable: 0,
      mismatched: 0,
      orphans: 0,
      damaged: 1,
      foreign: 0,
      unmanaged: 0,
      repaired: 0,
      remaining: 1,
      findings: [
        {
          kind: 'damaged',
          reference: 'vault:kv/data/aurora/users/vault-kill9/',
          detail: damagedDetail('folder', 'invalid ciphertext: wrong number of fields'),
        },
      ],
    };
    const text = formatReport(report, true);
    assert.match(
      text,
      /^ {2}damaged {2}vault:kv\/data\/aurora\/users\/vault-kill9\/ {2}\(Vault answers 500 listing this folder/m,
    );
    assert.match(text, /left alone: fix it by hand/);
    assert.match(text, /0 dangling, 0 orphaned, 1 damaged, .*1 remaining/);
    assert.match(text, /never repaired automatically/);
  });
});
