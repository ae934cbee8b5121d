/**
 * Durable file replacement for the client's own state: write a temp file, fsync it, rename it
 * over the target, fsync the directory. An ack to the gateway follows a local store, so "stored"
 * must survive a power cut, not just sit in the page cache.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replace `path` with `data` atomically and durably.
 * @param path - target file
 * @param data - contents
 * @param mode - permissions of the new file (0600 for everything the client writes)
 */
export function writeDurable(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  // A leftover from a crash could have other permissions: start from a file we create.
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDir(dirname(path));
}

/**
 * Create `path` only if it does not exist (O_EXCL), durably.
 * @throws the EEXIST error when it exists
 */
export function createDurable(path: string, data: string | Uint8Array, mode = 0o600): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDir(dirname(path));
}

function syncDir(dir: string): void {
  // Directory fsync makes the rename itself durable; some platforms refuse it, which is fine.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Best effort (Windows cannot open a directory this way).
  }
}
