import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Replaces the text between `<!-- name -->` and `<!-- /name -->` in a Markdown file, so each
 * benchmark rewrites only its own section of docs/benchmarks.md.
 */
export function replaceMarkdownSection(file: string | URL, name: string, body: string): void {
  const text = readFileSync(file, 'utf8');
  const open = `<!-- ${name} -->`;
  const close = `<!-- /${name} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`${String(file)} has no ${open} ... ${close} section`);
  writeFileSync(file, `${text.slice(0, a + open.length)}\n${body.trim()}\n${text.slice(b)}`);
}
