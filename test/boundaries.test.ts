/**
 * Architecture boundaries, enforced so the next engineer cannot cross them unnoticed (an
 * equivalent of dependency-cruiser rules, on the import statements of every TypeScript file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative import of a file (static, re-export, dynamic with a literal), as repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s[^'"`;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)]
    .map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

/** Computed dynamic imports hide a dependency from every tool: none allowed in src/ or bench/. */
function computedImports(file: string): boolean {
  return /import\(\s*[^'")\s]/.test(readFileSync(file, 'utf8'));
}

const files = [...walk(join(root, 'src')), ...walk(join(root, 'bench'))].map((f) => relative(root, f));
const edges = files.flatMap((from) => importsOf(join(root, from)).map((to) => ({ from, to })));
const violations = (pred: (e: { from: string; to: string }) => boolean): string[] => edges.filter(pred).map((e) => `${e.from} → ${e.to}`);
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

test('the scan sees the code base (a boundary test that sees nothing proves nothing)', () => {
  assert.ok(files.length > 50, `only ${files.length} files found`);
  assert.ok(edges.length > 100, `only ${edges.length} imports found`);
});

test('src/ never imports examples/, test/ or bench/', () => {
  assert.deepEqual(violations((e) => under(e.from, 'src') && (under(e.to, 'examples') || under(e.to, 'test') || under(e.to, 'bench'))), []);
});

test('the drill, the demo and the benchmarks reach the shield only through src/shield/index.ts', () => {
  const outside = (f: string): boolean => under(f, 'src/drill') || under(f, 'src/demo') || under(f, 'bench');
  assert.deepEqual(violations((e) => outside(e.from) && under(e.to, 'src/shield') && e.to !== 'src/shield/index.ts'), []);
});

test('src/core is a leaf: it imports no part of the product', () => {
  assert.deepEqual(violations((e) => under(e.from, 'src/core') && !under(e.to, 'src/core')), []);
});

test('the config schema and the shield do not import the drill, the demo, the CLI or authorize', () => {
  const product = (f: string): boolean => under(f, 'src/shield') || under(f, 'src/config');
  const apps = (f: string): boolean => ['src/drill', 'src/demo', 'src/cli', 'src/authorize'].some((d) => under(f, d));
  assert.deepEqual(violations((e) => product(e.from) && apps(e.to)), []);
  assert.deepEqual(violations((e) => under(e.from, 'src/config') && under(e.to, 'src/shield')), []);
});

test('authorize is independent of the shield and the drill', () => {
  assert.deepEqual(violations((e) => under(e.from, 'src/authorize') && (under(e.to, 'src/shield') || under(e.to, 'src/drill'))), []);
});

test('no computed dynamic import in src/ or bench/', () => {
  assert.deepEqual(files.filter((f) => computedImports(join(root, f))), []);
});

test('only the listener layer touches the client socket', () => {
  const touching = files.filter((f) => under(f, 'src/shield') && !under(f, 'src/shield/listener'))
    .filter((f) => /\breq\.socket\b|\brequest\.socket\b|\bres\.socket\b|\.connection\.remoteAddress/.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(touching, []);
});
