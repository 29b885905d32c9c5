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

/** Writes `content` to `file` atomically with `mode`; `tmpFile` defaults to a per-process name next to it. */
export async function writeFileAtomic(
  file: string,
  content: string,
  options: { mode?: number; tmpFile?: string } = {},
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
