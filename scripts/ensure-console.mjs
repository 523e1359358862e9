#!/usr/bin/env node
// Builds the operator console (web/console → dist/console) when it is missing or its sources
// changed since the last build, so `npm start` and `npm test` work on a fresh clone.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'web', 'console');
const out = join(root, 'dist', 'console');
const stampFile = join(root, 'dist', '.console-stamp');

const hash = createHash('sha256');
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else hash.update(full.slice(root.length)).update(readFileSync(full));
  }
};
walk(src);
const lock = join(root, 'package-lock.json');
if (existsSync(lock)) hash.update(readFileSync(lock));
const stamp = hash.digest('hex');

if (existsSync(join(out, 'index.html')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) process.exit(0);
console.error('building the operator console (vite)…');
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
if (!existsSync(vite)) {
  console.error('vite is not installed (npm install, with dev dependencies): the console will answer "not built"');
  process.exit(0);
}
const r = spawnSync(process.execPath, [vite, 'build', '-c', join(src, 'vite.config.ts')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync(dirname(stampFile), { recursive: true });
writeFileSync(stampFile, stamp);
