/**
 * Crash-safe file writes: a reader sees the old content or the new, never a torn file, and once the call
 * returns the new content survives a power cut (temp file, fsync, rename, fsync of the directory).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Hard links are not available on this file system (or not to this file): the caller falls back to rename. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Writes `content` to `file` atomically with `mode`; `tmpFile` defaults to a per-process name next to it.
 * `replace: false` never replaces an existing `file`: the temp file is hard-linked into place (which fails with
 * EEXIST when something is there, the error this throws then) instead of renamed over it. On a file system without
 * hard links it renames, checking just before.
 */
export async function writeFileAtomic(
  file: string,
  content: string,
  options: { mode?: number; tmpFile?: string; replace?: boolean } = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const dir = path.dirname(file);
  const tmp = options.tmpFile ?? path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  // 'w' with the final mode from the start: the content is never readable by others, not even briefly.
  const handle = await fs.open(tmp, 'w', mode);
  try {
    await handle.writeFile(content);
    // A pre-existing tmp file keeps its old mode through open(); make sure.
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (options.replace === false) {
    try {
      await fs.link(tmp, file);
      await fs.unlink(tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!NO_HARD_LINKS.has(code)) {
        if (code === 'EEXIST') await fs.unlink(tmp).catch(() => undefined);
        throw err;
      }
      if (
        await fs.stat(file).then(
          () => true,
          () => false,
        )
      ) {
        await fs.unlink(tmp).catch(() => undefined);
        throw Object.assign(new Error(`EEXIST: file already exists, ${file}`), { code: 'EEXIST', path: file });
      }
      await fs.rename(tmp, file);
    }
    await fsyncDir(dir);
    return;
  }
  await fs.rename(tmp, file);
  await fsyncDir(dir);
}

/** Content of `file`, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
