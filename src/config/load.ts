import { readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { configSchema, crossCheck, type Config } from './schema.js';
import { deepFreeze } from './freeze.js';
import { readTlsCertificates, resolveTlsPath } from './tls-material.js';
import { dirname } from 'node:path';

/** One problem found in a configuration file, located by key path and line. */
export interface ConfigProblem {
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** Thrown when a configuration cannot be used; lists every problem, not just the first. */
export class ConfigError extends Error {
  readonly code = 'RMP_ERR_CONFIG';
  readonly rempart = true;
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(`${file}: ${problems.length} configuration problem(s)\n` + problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'ConfigError';
  }
}

/** True for a ConfigError (no instanceof: works across module copies). */
export function isConfigError(e: unknown): e is ConfigError {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'RMP_ERR_CONFIG'
    && Array.isArray((e as { problems?: unknown }).problems);
}

/** "file:line:col key.path: message", the shape editors and CI logs link to. */
export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line ? `${file}:${p.line}${p.column ? `:${p.column}` : ''}` : file;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces ${VAR} and ${VAR:-default} in the raw text, line by line, so line numbers survive.
 * A variable that is unset and has no default is a problem, reported at its line.
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): { text: string; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const lines = text.split('\n').map((line, i) => {
    if (/^\s*#/.test(line)) return line;
    return line.replace(ENV_REF, (_m, name: string, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v.includes('\n') ? JSON.stringify(v) : v;
      if (def !== undefined) return def;
      problems.push({ path: '', line: i + 1, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
      return '';
    });
  });
  return { text: lines.join('\n'), problems };
}

function nodeFor(doc: Document, path: PropertyKey[]): Node | undefined {
  // Walk down as far as the path exists, so a missing key points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return undefined;
}

function keyNodeRange(doc: Document, path: PropertyKey[]): [number, number, number] | undefined {
  // For "unrecognized key" issues the key itself is the best location.
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === last);
  const k = pair?.key as { range?: [number, number, number] } | undefined;
  return k?.range;
}

const pathText = (path: PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');

/** Validates a plain object against the schema; returns the frozen config or the list of problems. */
function validate(raw: unknown, locate: (path: PropertyKey[], unknownKey?: string) => { line?: number; column?: number }, baseDir: string):
  { config?: Config; problems: ConfigProblem[] } {
  const result = configSchema.safeParse(raw ?? {});
  const problems: ConfigProblem[] = crossCheck(raw).map((c) => ({ path: pathText(c.path), ...locate(c.path), message: c.message }));
  const tls = result.success ? result.data.listen.tls : undefined;
  if (tls) {
    // The files are read now, so a missing or mismatched certificate is a configuration error at
    // its key and line (a refused reload keeps the running certificates), and the frozen config
    // names them by absolute path: the listener re-reads them on reload from any working directory.
    for (const c of tls.certificates) { c.cert = resolveTlsPath(c.cert, baseDir); c.key = resolveTlsPath(c.key, baseDir); }
    for (const p of readTlsCertificates(tls, baseDir).problems) problems.push({ path: pathText(p.path), ...locate(p.path), message: p.message });
  }
  if (result.success && problems.length === 0) return { config: deepFreeze(result.data), problems };
  for (const issue of result.success ? [] : result.error.issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ path: pathText([...path, key]), ...locate([...path, key], key), message: `unknown key "${key}"` });
      }
      continue;
    }
    problems.push({ path: pathText(path), ...locate(path), message: issue.message });
  }
  return { problems };
}

/** Parses and validates a configuration object given in code (no file, no line numbers). */
export function parseConfig(raw: unknown): Config {
  const { config, problems } = validate(raw, () => ({}), process.cwd());
  if (!config) throw new ConfigError('(inline config)', problems);
  return config;
}

/**
 * Reads YAML text after ${ENV} substitution: the document, its line counter, and the substitution
 * problems so far. YAML syntax errors throw a ConfigError at once (with line and column). Shared by
 * every configuration file of the project (shield, authorize).
 */
export function readYamlDocument(text: string, file: string, env: NodeJS.ProcessEnv): { doc: Document; lineCounter: LineCounter; problems: ConfigProblem[] } {
  const sub = substituteEnv(text, env);
  const lineCounter = new LineCounter();
  const doc = parseDocument(sub.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [...sub.problems];
  for (const err of doc.errors) {
    const pos = lineCounter.linePos(err.pos[0]);
    problems.push({ path: '', line: pos.line, column: pos.col, message: `YAML: ${err.message.split('\n')[0]}` });
  }
  if (doc.errors.length > 0) throw new ConfigError(file, problems);
  return { doc, lineCounter, problems };
}

/** Parses YAML text (after ${ENV} substitution) and validates it; throws a ConfigError listing every problem. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const { doc, lineCounter, problems } = readYamlDocument(text, file, env);
  const locate = (path: PropertyKey[], unknownKey?: string): { line?: number; column?: number } => {
    const range = unknownKey !== undefined ? keyNodeRange(doc, path) : nodeFor(doc, path)?.range;
    if (!range) return {};
    const pos = lineCounter.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  };
  const root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (root !== null && root !== undefined && (typeof root !== 'object' || Array.isArray(root))) {
    throw new ConfigError(file, [{ path: '', line: 1, message: 'the configuration must be a YAML mapping' }]);
  }
  const { config, problems: schemaProblems } = validate(root, locate, dirname(file));
  problems.push(...schemaProblems);
  if (!config || problems.length > 0) throw new ConfigError(file, problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return config;
}

/** Reads, substitutes, parses and validates a configuration file; the result is deeply frozen. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, file, env);
}
