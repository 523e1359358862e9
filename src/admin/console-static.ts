import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One static file of the console, held in memory. */
export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
};

/**
 * Where `npm run build` put the console (dist/console): beside the sources when run with tsx
 * (src/admin → ../../dist/console), inside dist when compiled (dist/src/admin → ../../console).
 */
export function findConsoleDir(): string | undefined {
  for (const rel of ['../../dist/console/', '../../console/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

/**
 * Loads every file of the built console into memory once (a few hundred KB): serving it never
 * touches the disk, and a path can only name a file that was there at load time.
 */
export function loadConsoleFiles(dir: string | undefined): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!dir) return files;
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const full = join(dir, rel);
      if (statSync(full).isDirectory()) { walk(rel); continue; }
      // Vite names bundles by content hash under assets/: those never change.
      files.set(rel, { body: readFileSync(full), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') });
    }
  };
  walk('');
  return files;
}
