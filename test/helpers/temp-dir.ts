import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

// Directories whose removal failed after their test: removed when the test process exits.
const leftovers = new Set<string>();
process.once('exit', () => { for (const dir of leftovers) rmSync(dir, { recursive: true, force: true }); });

/**
 * A fresh temporary directory removed after the test. Its hook runs before the hooks added after
 * it (`t.after` hooks run in the order they were added) — a service's close, whose SQLite database
 * may still create its -wal/-shm files there: rmdir then meets a file it did not list (ENOTEMPTY).
 * A hook that throws also skips the hooks after it, the service's close among them, and the test
 * file then hangs until its timeout (seen twice, in two authorize files): a failed removal is left
 * to the process's exit instead.
 */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => {
    try { rmSync(dir, { recursive: true, force: true }); } catch { leftovers.add(dir); }
  });
  return dir;
}
