import { readFileSync, writeFileSync } from 'node:fs';

/** Replaces the section between `<!-- name -->` and `<!-- /name -->` in docs/benchmarks.md. */
export function recordSection(name: string, markdown: string, file = 'docs/benchmarks.md'): void {
  const text = readFileSync(file, 'utf8');
  const open = `<!-- ${name} -->`;
  const close = `<!-- /${name} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  const body = `${open}\n${markdown.trim()}\n${close}`;
  const next = a !== -1 && b > a ? text.slice(0, a) + body + text.slice(b + close.length) : `${text.trimEnd()}\n\n${body}\n`;
  writeFileSync(file, next);
}
