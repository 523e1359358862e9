import { readFileSync } from 'node:fs';
import { isMap, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError, readYamlDocument, type ConfigProblem } from '../config/load.js';
import { deepFreeze } from '../config/freeze.js';

const ms = z.number().int().positive();
const minor = z.number().int().min(0);

const smppProviderSchema = z.object({
  type: z.literal('smpp'),
  name: z.string().min(1),
  /** smpp://host:port of the SMSC. */
  url: z.string().regex(/^smpps?:\/\/[^/]+$/, 'expected smpp://host:port'),
  systemId: z.string().min(1),
  password: z.string().default(''),
  sourceAddr: z.string().default('REMPART'),
  /** SMPP 3.4 §4.11: enquire_link keeps the bind alive and detects a dead link. */
  enquireLinkMs: ms.default(30_000),
  submitTimeoutMs: ms.default(5_000),
  reconnectMs: ms.default(2_000),
}).strict();

const httpProviderSchema = z.object({
  type: z.literal('http'),
  name: z.string().min(1),
  /** The gateway's send endpoint (POST JSON {to, text, reference}). */
  url: z.string().url(),
  token: z.string().optional(),
  /** Bearer token the gateway sends with its delivery receipts (POST /v1/sms/receipts); without one, its receipts are refused. */
  receiptToken: z.string().min(16).optional(),
  timeoutMs: ms.default(5_000),
}).strict();

const outboxProviderSchema = z.object({
  type: z.literal('outbox'),
  name: z.string().min(1),
}).strict();

const providerSchema = z.discriminatedUnion('type', [smppProviderSchema, httpProviderSchema, outboxProviderSchema]);

const demoPayerSchema = z.object({
  payerRef: z.string().min(1),
  phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'expected E.164, e.g. +33612345678'),
  knowledgeFactor: z.string().min(4),
}).strict();

/** The authorize configuration: every key has a default except secrets an operator must choose. */
export const authorizeConfigSchema = z.object({
  listen: z.object({
    address: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8090),
    /** Serve everything under this path prefix (e.g. /authorize when a proxy forwards that prefix as is); '' = at the root. */
    basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/, "'' or a path such as /authorize (no trailing slash)").default(''),
  }).strict().prefault({}),
  store: z.object({
    file: z.string().default('./data/authorize.db'),
    /**
     * WAL + NORMAL survives a process crash (kill -9) with every acknowledged write; only an OS
     * crash or power loss can drop the last commits. FULL fsyncs each commit (~4 ms here).
     */
    synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  }).strict().prefault({}),
  secrets: z.object({
    /** Key of the code HMAC (RTS art. 22): never in the database; from the environment or a key file. */
    codeKey: z.string().min(32).optional(),
    /** Where the code key lives when codeKey is not given (created with mode 0600 if missing). */
    codeKeyFile: z.string().optional(),
  }).strict().prefault({}),
  /** Bearer token for POST /v1/payers (enrolment). */
  adminToken: z.string().min(16),
  /** Operators allowed to override the channel mode: id → bearer token. Two distinct ones must approve. */
  operators: z.record(z.string().min(1), z.string().min(16)).default({}),
  /**
   * The 3-D Secure servers (requesters) allowed to create, read, cancel and resend authentications
   * and submit SMS codes: id → bearer token, or a list of tokens (rotation). None = that API refuses
   * every call. Each requester sees only the authentications it created.
   */
  requesters: z.record(z.string().regex(/^[A-Za-z0-9._:@-]{1,64}$/, 'letters, digits and . _ : @ - only'),
    z.union([z.string().min(16), z.array(z.string().min(16)).min(1).max(4)]).transform((v) => (typeof v === 'string' ? [v] : v))).default({}),
  timers: z.object({
    wholeMs: ms.default(600_000),
    appStepMs: ms.default(300_000),
    codeMs: ms.default(300_000),
    maxResends: z.number().int().min(0).max(3).default(3),
    /** A pushed challenge not fetched by the app within this time counts as an app-channel failure. */
    appFetchTimeoutMs: ms.default(10_000),
    smsRetryMs: ms.default(2_000),
    tickMs: ms.default(200),
    /** Accepted distance between the app's signature timestamp and the server clock. */
    signatureSkewMs: ms.default(300_000),
  }).strict().prefault({}),
  code: z.object({ length: z.number().int().min(6).max(10).default(6) }).strict().prefault({}),
  knowledge: z.object({
    scryptN: z.number().int().min(1024).default(16_384),
    scryptR: z.number().int().min(1).default(8),
    scryptP: z.number().int().min(1).default(1),
  }).strict().prefault({}),
  lockout: z.object({
    // RTS art. 4(3)(b): not more than 5 consecutive failed attempts.
    maxFailures: z.number().int().min(1).max(5).default(5),
    blockMs: ms.default(1_800_000),
    /** After this many temporary blocks in a row the block is permanent (alert first, art. 4(4)). */
    permanentAfterBlocks: z.number().int().min(1).default(3),
  }).strict().prefault({}),
  exemption: z.object({
    enabled: z.boolean().default(false),
    // RTS art. 16: EUR 30 per transaction, EUR 100 cumulative or 5 in a row since the last SCA.
    maxAmountMinor: minor.max(3000).default(3000),
    maxCumulativeMinor: minor.max(10_000).default(10_000),
    maxConsecutive: z.number().int().min(0).max(5).default(5),
    currencies: z.array(z.string().regex(/^[A-Z]{3}$/)).default(['EUR']),
  }).strict().prefault({}),
  fallback: z.object({
    /** Stricter cap while the SMS fallback carries the authentication; above it the answer is U. */
    maxAmountMinor: minor.default(50_000),
  }).strict().prefault({}),
  rateLimits: z.object({
    windowMs: ms.default(3_600_000),
    smsPerPayer: z.number().int().min(1).default(10),
    smsPerPhone: z.number().int().min(1).default(10),
    resendsPerPayer: z.number().int().min(0).default(6),
  }).strict().prefault({}),
  breaker: z.object({
    windowMs: ms.default(30_000),
    minAttempts: z.number().int().min(1).default(20),
    failureRatio: z.number().gt(0).lt(1).default(0.5),
    /** Time the breaker stays open before probing. */
    dwellMs: ms.default(30_000),
    probeIntervalMs: ms.default(1_000),
    probeTimeoutMs: ms.default(3_000),
    probeSuccesses: z.number().int().min(1).default(3),
  }).strict().prefault({}),
  push: z.object({
    provider: z.literal('simulator').default('simulator'),
    latencyMs: z.number().int().min(0).default(20),
    /** How long the simulated device takes to fetch its challenge after the push. */
    deviceFetchDelayMs: z.number().int().min(0).default(30),
  }).strict().prefault({}),
  sms: z.object({
    providers: z.array(providerSchema).min(1).default([{ type: 'outbox', name: 'outbox' }]),
    /** A provider that fails is skipped for this long, then tried again. */
    blockMs: ms.default(30_000),
  }).strict().prefault({}),
  override: z.object({ maxTtlMs: ms.default(86_400_000), proposalTtlMs: ms.default(600_000) }).strict().prefault({}),
  demo: z.object({
    enabled: z.boolean().default(false),
    payers: z.array(demoPayerSchema).default([]),
  }).strict().prefault({}),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().prefault({}),
}).strict();

export type AuthorizeConfig = z.infer<typeof authorizeConfigSchema>;

const pathText = (path: PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');

function crossCheck(c: AuthorizeConfig): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const names = new Set<string>();
  c.sms.providers.forEach((p, i) => {
    if (names.has(p.name)) out.push({ path: ['sms', 'providers', i, 'name'], message: `duplicate provider name "${p.name}"` });
    names.add(p.name);
  });
  if (c.timers.appStepMs > c.timers.wholeMs) out.push({ path: ['timers', 'appStepMs'], message: 'must not exceed timers.wholeMs' });
  if (c.timers.codeMs > c.timers.wholeMs) out.push({ path: ['timers', 'codeMs'], message: 'must not exceed timers.wholeMs' });
  const tokens = Object.values(c.operators);
  if (new Set(tokens).size !== tokens.length) out.push({ path: ['operators'], message: 'each operator needs a distinct token' });
  const seen = new Set<string>([c.adminToken, ...tokens]);
  for (const [id, list] of Object.entries(c.requesters)) {
    for (const tok of list) {
      if (seen.has(tok)) out.push({ path: ['requesters', id], message: 'a requester token must differ from every other requester, operator and admin token' });
      seen.add(tok);
    }
  }
  return out;
}

function validate(raw: unknown, locate: (path: PropertyKey[], key?: boolean) => { line?: number; column?: number }):
  { config?: AuthorizeConfig; problems: ConfigProblem[] } {
  const result = authorizeConfigSchema.safeParse(raw ?? {});
  const problems: ConfigProblem[] = [];
  if (result.success) {
    for (const c of crossCheck(result.data)) problems.push({ path: pathText(c.path), ...locate(c.path), message: c.message });
    if (problems.length === 0) return { config: deepFreeze(result.data), problems };
    return { problems };
  }
  for (const issue of result.error.issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: pathText([...path, key]), ...locate([...path, key], true), message: `unknown key "${key}"` });
      continue;
    }
    problems.push({ path: pathText(path), ...locate(path), message: issue.message });
  }
  return { problems };
}

/** Validates an authorize configuration given in code; throws a ConfigError listing every problem. */
export function parseAuthorizeConfig(raw: unknown): AuthorizeConfig {
  const { config, problems } = validate(raw, () => ({}));
  if (!config) throw new ConfigError('(inline authorize config)', problems);
  return config;
}

function rangeOf(doc: Document, path: PropertyKey[], key: boolean): [number, number, number] | undefined {
  if (key && path.length > 0) {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
    if (isMap(parent)) {
      const last = path[path.length - 1];
      const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === last);
      const r = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (r) return r;
    }
  }
  // Walk up until the path exists, so a missing key points at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (node && typeof node === 'object' && 'range' in node) return (node as Node).range ?? undefined;
  }
  return undefined;
}

/** Parses YAML text (after ${ENV} substitution) into a frozen authorize config, problems located by file:line and key. */
export function parseAuthorizeConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): AuthorizeConfig {
  const { doc, lineCounter, problems } = readYamlDocument(text, file, env);
  const root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (root !== null && root !== undefined && (typeof root !== 'object' || Array.isArray(root))) {
    throw new ConfigError(file, [{ path: '', line: 1, message: 'the configuration must be a YAML mapping' }]);
  }
  const { config, problems: more } = validate(root, (path, key = false) => {
    const r = rangeOf(doc, path, key);
    if (!r) return {};
    const pos = lineCounter.linePos(r[0]);
    return { line: pos.line, column: pos.col };
  });
  problems.push(...more);
  if (!config || problems.length > 0) throw new ConfigError(file, problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return config;
}

/** Reads and validates an authorize configuration file. */
export function loadAuthorizeConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): AuthorizeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(err as Error).message}` }]);
  }
  return parseAuthorizeConfigText(text, file, env);
}
