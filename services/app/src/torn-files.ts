/**
 * Finds the entries of Vault's file storage that a crash left half written: `doctor --torn-files` reads the
 * paths of the storage's files on stdin (`find <storage dir> -type f`) and prints the ones to remove.
 *
 * How Vault's file backend writes an entry (vault/sdk physical/file, `PutInternal`): the key `a/b/c` is the
 * file `a/b/_c`; its JSON (`{"Value":"<base64 of the barrier-encrypted entry>"}` and a newline) is written
 * to a temporary file in the same directory, created by Go's os.CreateTemp with the entry's own name as the
 * pattern, so it is named `_c` followed by up to 10 random decimal digits; then the temporary file is renamed
 * over `_c`. A kill -9 (or a crash) between the create and the rename leaves that temporary file behind,
 * empty or complete; the entry itself is never half written. Reads do not care (no key maps to the stray
 * name), but the file backend lists every name in a directory, `_` stripped, as a key.
 *
 * KV v2 keeps its metadata under `logical/<mount uuid>/<backend uuid>/metadata/`, with every path segment
 * encrypted (sdk helper/keysutil EncryptedKeyStorage): a segment is stored as the base-62 text (Go's
 * big.Int.Text(62)) of the bytes `<key version>:<base64 ciphertext>`. Listing a folder decrypts every name
 * in it; a stray `<name><digits>` decodes to other bytes, and the whole LIST answers 500 "invalid
 * ciphertext: wrong number of fields" (or "... version number could not be decoded"). That is
 * what `doctor` reports as a damaged folder, and what removing the stray file repairs.
 *
 * An entry whose own file is cut short (a file system that lost the tail of a write: power loss, disk
 * errors; a kill -9 cannot do this, the rename comes after the whole write) fails on read instead; its
 * content is checked when the file can be read from here (native stack), by name only otherwise.
 */

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** A file in a KV v2 metadata tree: `…/logical/<mount uuid>/<backend uuid>/metadata/<encrypted dirs…>/_<name>`. */
const KV_METADATA_FILE = new RegExp(`(?:^|/)logical/${UUID}/${UUID}/metadata/(?:[^/]+/)*([^/]+)$`);

/** The bytes of a base-62 number as Go's big.Int writes it (0-9, a-z, A-Z); undefined if `text` is not one. */
export function base62Bytes(text: string): Buffer | undefined {
  if (!text) return undefined;
  let n = 0n;
  for (const ch of text) {
    const digit = BASE62.indexOf(ch);
    if (digit < 0) return undefined;
    n = n * 62n + BigInt(digit);
  }
  if (n === 0n) return Buffer.alloc(0);
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/**
 * Is `name` (a file name without the file backend's `_`) an encrypted KV v2 key segment, i.e. base-62 of
 * `<key version>:<base64>`? The base64 holds a 12-byte nonce, the segment (at least one byte) and a 16-byte tag.
 */
export function isEncryptedKeyName(name: string): boolean {
  const bytes = base62Bytes(name);
  if (!bytes) return false;
  const text = bytes.toString('latin1');
  const m = /^[1-9]\d*:([A-Za-z0-9+/]+={0,2})$/.exec(text);
  return !!m && m[1]!.length % 4 === 0 && Buffer.from(m[1]!, 'base64').length >= 29;
}

/**
 * Is `content` a whole file-backend entry: one JSON object with a non-empty base64 `Value`? (Empty files are not
 * checked: Vault treats them as absent.)
 */
export function isWholeEntry(content: Buffer): boolean {
  try {
    const parsed = JSON.parse(content.toString('utf8')) as { Value?: unknown };
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof parsed.Value === 'string' &&
      parsed.Value.length > 0 &&
      /^[A-Za-z0-9+/]+={0,2}$/.test(parsed.Value)
    );
  } catch {
    return false;
  }
}

/**
 * The entry a stray temporary file was written for: `_<name><1-10 digits>` → `_<name>`, when stripping the
 * digits leaves an encrypted key name; undefined otherwise.
 */
export function strayOwner(file: string): string | undefined {
  const name = file.startsWith('_') ? file.slice(1) : file;
  for (let k = 1; k <= 10 && k < name.length; k++) {
    if (!/^\d$/.test(name[name.length - k]!)) break;
    const stem = name.slice(0, name.length - k);
    if (isEncryptedKeyName(stem)) return `_${stem}`;
  }
  return undefined;
}

export interface TornFile {
  path: string;
  kind: 'stray' | 'truncated';
  /** Why, for a person. */
  detail: string;
  /** A stray file: the name of the entry it was the temporary file of (in the same directory), when known. */
  entry?: string;
}

/**
 * Checks one storage file: its name when it lies in a KV v2 metadata tree, its content when given
 * (`undefined`: not readable from here). Returns what is wrong, or undefined.
 */
export function tornFile(path: string, content?: Buffer): TornFile | undefined {
  const m = KV_METADATA_FILE.exec(path);
  if (m) {
    const file = m[1]!;
    const name = file.startsWith('_') ? file.slice(1) : file;
    if (!isEncryptedKeyName(name)) {
      const entry = strayOwner(file);
      return {
        path,
        kind: 'stray',
        ...(entry ? { entry } : {}),
        detail:
          `not an encrypted KV key name: ${entry ? `the temporary file of a write of ${entry} that Vault never finished` : 'a file Vault did not write as an entry'}` +
          `${content ? ` (${content.length} bytes)` : ''}; Vault cannot list this folder while it is there`,
      };
    }
  }
  if (content && content.length > 0 && !isWholeEntry(content)) {
    return {
      path,
      kind: 'truncated',
      detail: `the entry's content is cut short or garbled (${content.length} bytes): Vault cannot read it`,
    };
  }
  return undefined;
}

/** Splits `find` output into paths (one a line; blank lines and a trailing CR ignored). */
export function storagePaths(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}
