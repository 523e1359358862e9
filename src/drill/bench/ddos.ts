import { replaceMarkdownSection } from '../../core/markdown-section.js';
import { connectionCapUnder, readOpenFilesLimit } from '../../core/open-files.js';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { Client } from 'undici';
import { DRILL_TLS_OPTIONS } from '../tls-target.js';
import { DRILL_CLASSES } from '../metrics.js';
import { renderHtml } from '../report/html.js';
import { ms, pct, int, mitigationText } from '../report/format.js';
import { runDrill, type DrillReport } from '../run.js';
import { getScenario } from '../scenarios.js';
import { DEFAULT_USER_SETTINGS, searchRequest, searchTarget } from '../users.js';
import { BENCH_LAYOUTS, type BenchLayout } from './layouts.js';
import { benchSecret, knownCustomerCookie } from './known-customers.js';
import { benchCertificate, directTarget, startHaproxy, startNginx, type BenchTarget } from './targets.js';
import { originCapacity, type OriginShape } from './origin-shape.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

/**
 * The bench's origin: a small worker pool, so attacks at a few hundred req/s are >= 10x its capacity.
 * `/static/app.js` is 16 MiB: more than the ~4 MB the kernel buffers per loopback TCP hop, twice over,
 * so a slow reader behind a proxy that does not buffer responses keeps an origin worker (slow-read).
 */
export const BENCH_ORIGIN = { maxInFlight: 2, maxQueue: 64, serviceMs: 40, approveAfterS: 1, largeAssetBytes: 16 * 1024 * 1024 } as const;
/** Origin capacity on its cheapest dynamic route (tracking lookup), requests/s. */
export const BENCH_CAPACITY = originCapacity(BENCH_ORIGIN);

/** Attack parameters of the bench, per scenario (each at least 10x BENCH_CAPACITY where it is a rate). */
// Sources x connections >= 3,000: enough concurrency to keep offering 600 req/s to a target that
// holds every request for the full 5 s timeout (otherwise back-pressure caps the rate sent).
export const BENCH_PARAMS: Record<string, Record<string, number>> = {
  'single-flood': { rate: 600, connections: 256 },
  'distributed-low-rate': { rate: 600, sources: 2000, connections: 2 },
  'cache-buster': { rate: 600, sources: 200, connections: 16 },
  'connection-churn': { rate: 600, sources: 1000, connections: 3 },
  // 50 × 4 connections × 16 written ahead: 3,200 requests in flight on 200 connections.
  'pipeline-flood': { rate: 600, sources: 50, connections: 4, depth: 16 },
  // The same under clearances: the bots keep their cookies and solve their challenge.
  'pipeline-solver': { rate: 600, sources: 50, connections: 4, depth: 16 },
  'login-flood': { rate: 600, sources: 500, connections: 8 },
  // 600 × 128 KiB: 75 MB/s of bodies at 12× the origin's request capacity.
  'upload-flood': { rate: 600, sources: 500, connections: 8, kib: 128 },
  'preflight-flood': { rate: 600, sources: 1000, connections: 3 },
  'header-randomizer': { rate: 600, sources: 300, connections: 10 },
  'challenge-solver': { rate: 600, sources: 200, connections: 16 },
  'newcomers-under-attack': { rate: 600, sources: 200, connections: 16, factor: 2 },
  // 0.3 req/s per bot: each identity as light as a customer's.
  'solver-crowd': { rate: 600, sources: 2000, connections: 2, factor: 2 },
  // 1,000 bots at 0.6 req/s each (a person's pace by count), every request an 8-term search:
  // 600 requests/s costing 16 lookups each, 190x the origin's capacity in lookups.
  'costly-search': { rate: 600, sources: 1000, connections: 2, terms: 8, vary: 8 },
  // The same crowd guessing logins from the form it loaded (one connection per bot: the post
  // follows the form's answer): up to 300 posts/s at 3x a lookup's cost.
  'login-crowd': { rate: 600, sources: 2000, connections: 1, factor: 2 },
  // solver-crowd's crowd holding reputations the shield issued a day before (farmed).
  'sleeper-crowd': { rate: 600, sources: 2000, connections: 2 },
  waves: { rate: 600, sources: 1500, connections: 2 },
  mixed: { rate: 600, sources: 3000 },
  slowloris: { connections: 1500, sources: 100, openRate: 300 },
  // Just above a 1 KiB/s minimum body rate (Rempart's default floor) even when the first chunk comes a second late.
  'slow-post': { connections: 800, sources: 50, openRate: 200, intervalMs: 1000, chunkBytes: 1500 },
  'slow-read': { connections: 600, sources: 150, openRate: 200, intervalMs: 1000, readBytes: 16 },
  // 800 sources × 15 tunnels, each under a per-address cap of 16: past the shield's descriptor
  // budget at a 20,000 open-files limit (a tunnel holds two), opened in 8 s.
  'websocket-hold': { connections: 12000, sources: 800, openRate: 1500, intervalMs: 10000 },
  // 800 sources × 15 live pages' event streams: past the shield's stream budget (a quarter of the
  // connections it holds); each held stream used to keep an upstream slot for good.
  'stream-hold': { connections: 12000, sources: 800, openRate: 1500 },
  // The same from bots that browsed 2 pages each first and keep their cookies.
  'stream-browse-hold': { connections: 12000, sources: 800, openRate: 1500, warmupS: 10, pages: 2 },
  // 200 sources × 3 tunnels, one message a second each: 600 lookups/s, 12× the origin's capacity.
  'websocket-flood': { connections: 600, sources: 200, openRate: 600, intervalMs: 1000 },
  // 600 bots, one connection each, looping and waiting up to 60 s for each answer (k6's default
  // timeout): 600 requests outstanding at all times, at most 600 req/s when answered at once.
  'closed-loop': { rate: 600, sources: 600, connections: 1, factor: 2, timeoutS: 60 },
  // The same tunnels from bots that browsed 2 pages each first and keep their cookies.
  'websocket-browse-flood': { connections: 600, sources: 200, openRate: 600, intervalMs: 1000, warmupS: 10, pages: 2 },
  // 6 req/s per bot (under per-address limits); 2 pages each in a 10 s warm-up: 20 req/s of browsing.
  'browse-then-flood': { rate: 600, sources: 100, connections: 32, warmupS: 10, pages: 2 },
  // 2,000 bots × 4 connections at 2 req/s each (an independent run's rate, 80× the demo origin);
  // their 2 pages each in the 10 s warm-up are 400 req/s of browsing: the attack is on before the flood.
  'browse-crowd': { rate: 4000, sources: 2000, connections: 4, warmupS: 10, pages: 2 },
  // Bots logged in to accounts of their own first, 12 req/s each with a session: 50 logins to a
  // 2-worker origin in a 10 s warm-up (beside the customers' traffic) land about half; with
  // --duration 30 and warmupS=15 every one does (docs/benchmarks.md, twenty-seventh session).
  'account-holders': { rate: 600, sources: 50, connections: 64, warmupS: 10, pages: 1 },
  // Four customers' sessions, each logged in once by one bot in the warm-up, replayed by 200 bots
  // at 3 req/s each from their own addresses (every bot browsed a page first and keeps its cookies).
  'session-replay': { rate: 600, sources: 200, connections: 8, warmupS: 10, pages: 1, sessions: 4 },
};

/** The legitimate population of every cell. */
export const BENCH_USERS = { trackingUsers: 20, bankingUsers: 8, usersPerAddress: 4 } as const;
/**
 * Every banking session of the bench ends with a payment (the drill's default is a quarter): the
 * checkout completion is a figure of its own (≥ 99%), and 2–9 payments a cell bounded it only above
 * ~93% over the whole matrix (95% confidence). The origin's load barely moves: a payment is one POST
 * and a poll every 1–3 s of real time.
 */
export const BENCH_USER_SETTINGS = { paymentShare: 1 } as const;

export interface DdosBenchOptions {
  targets: string[];
  scenarios: string[];
  /** Address layout (default disjoint); see layouts.ts. */
  layout?: BenchLayout;
  durationS: number;
  /**
   * Seconds of legitimate traffic before each attack (default: the drill's, 3 s or the scenario's
   * warm-up). Past 30 s of normal traffic a fresh shield has learned its shares (fingerprints,
   * paths, query shapes, prefixes) and signatures are found against them, as on a shield that ran
   * before the attack; with the default lead it meets every attack cold.
   */
  leadS?: number;
  timeScale: number;
  seed: number;
  json?: string;
  htmlDir?: string;
  /**
   * Write the shield's access log (one JSON line per request, with its queue wait, admission tier,
   * pace and identity digest) into this directory, one file per Rempart cell: the way to see whom
   * the admission order put first, beside the cell's legitimate addresses (report meta).
   */
  accessLogDir?: string;
  /**
   * The shield's own log: 'default' (the product's: info and the access log within its budget,
   * written to a file as a deployment writes to its journal) or 'off' (warnings only, as every run
   * before the fifty-eighth session measured). Default 'default': the configuration the bench claims.
   */
  shieldLog?: 'default' | 'off';
  /**
   * Every target over TLS (`--tls`): Rempart with `listen.tls`, nginx `listen … ssl`, HAProxy
   * `bind … ssl crt`, all with one certificate (a checkout's test/fixtures/tls/site-a, ECDSA P-256);
   * every drill connection makes its handshake (unverified: drill/tls-target.ts). `direct` has no
   * TLS (the demo origin speaks plain HTTP) and is left out.
   */
tls?: boolean;
  /** With `tls`: every target also offers HTTP/2 in ALPN (the drill's customers still speak HTTP/1.1; h2-rapid-reset, h2-multiplex-flood and h2-slow-post speak h2). */
  h2?: boolean;
  /** With `h2`: the customers' browsers offer HTTP/2 too (one connection each, its requests as streams). */
  h2Customers?: boolean;
  record?: string;
  signal?: AbortSignal;
  argv?: string[];
  /**
   * Failover run: two origin servers; the first is killed (SIGKILL) this many seconds into each cell
   * and restarted before the next. The direct target is that first server itself.
   */
  killServerAtS?: number;
  /**
   * Restart run: each Rempart is stopped (SIGTERM: a graceful stop) this many seconds into each cell
   * and started again on its port — an operator's restart during an attack. With its state in a
   * SQLite file of the cell's own (`storage.database`: learned baselines, origin sessions, the
   * reputation roster) unless `restartForgets`.
   */
  restartShieldAtS?: number;
  /** With restartShieldAtS: no state file, the restarted shield starts from nothing. */
  restartForgets?: boolean;
  /**
   * One Rempart process for the whole run, its state (attack phase, reputations, pace, strikes)
   * carried from cell to cell. Default: a fresh shield before each of its cells, so every cell is
   * an attack on a shield in normal times whose customers visited before it (see keepState in
   * docs/benchmarks.md for what carrying the state over does).
   */
  keepState?: boolean;
  /**
   * Attack parameters over BENCH_PARAMS, by scenario (`{ 'browse-then-flood': { sources: 1000 } }`):
   * a variant of an attack, or a sweep, with the same cells and table. Listed in the table's header.
   */
  params?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * Returning customers: every user of the population before the crowd holds a reputation issued
   * a week before the run (known-customers.ts). Default: none, every reputation is the cell's own.
   */
  knownCustomers?: boolean;
  /** Requests the account page's script sends at once for its data (users.ts `pageRequests`); default 0. */
  pageRequests?: number;
  /** Share of the tracking customers' searches typed as a sentence (users.ts `longSearchShare`); default the drill's. */
  longSearchShare?: number;
  /** The site's search takes its terms in the path (users.ts `searchInPath`), for customers and the costly-search flood. */
  searchInPath?: boolean;
  /** What follows the terms in the path (users.ts `searchPathSuffix`, `/page/1`): the search's terms in an inner segment. */
  searchPathSuffix?: string;
  /** The site's search form posts its terms (users.ts `searchByPost`), for customers and the costly-search flood. */
  searchByPost?: boolean;
  /** Another origin than BENCH_ORIGIN (workers, queue, service time): see origin-shape.ts. */
  origin?: Partial<OriginShape>;
  /** Progress and warnings (stderr by default). */
  log?(line: string): void;
  /** Where the finished table goes (stdout by default): a caller that reads the cells need not print it. */
  out?(markdown: string): void;
}

/** The origin of a run: the bench's, with what `--origin` changes. */
const benchOrigin = (o: Pick<DdosBenchOptions, 'origin'>): OriginShape & { approveAfterS: number; largeAssetBytes: number } => ({ ...BENCH_ORIGIN, ...o.origin });

/** The attack parameters of a scenario's cells: the bench's own, then the run's overrides. */
export function benchParams(scenario: string, overrides: DdosBenchOptions['params']): Record<string, number> {
  return { ...BENCH_PARAMS[scenario], ...overrides?.[scenario] };
}

/** Overrides must name a scenario of the run and one of its parameters: a typo would silently measure the default. */
export function checkOverrides(scenarios: readonly string[], overrides: DdosBenchOptions['params']): void {
  for (const [scenario, kv] of Object.entries(overrides ?? {})) {
    if (!scenarios.includes(scenario)) throw new Error(`parameter override for "${scenario}", which is not among the scenarios of this run (${scenarios.join(', ')})`);
    const defs = getScenario(scenario).params;
    for (const key of Object.keys(kv)) {
      if (!(key in defs)) throw new Error(`scenario "${scenario}" has no parameter "${key}" (it has: ${Object.keys(defs).join(', ') || 'none'})`);
    }
  }
}

export interface BenchCell { target: string; scenario: string; report: DrillReport | null; error?: string }

/**
 * The URL in a line of serve.ts's output, if the line is `{"url": ...}`: the server prints it once
 * listening, and log lines may come first (the shield's start-up warnings, on stdout).
 */
export function serverUrlOf(line: string): string | undefined {
  let url: unknown;
  try { url = (JSON.parse(line) as { url?: unknown } | null)?.url; } catch { return undefined; }
  return typeof url === 'string' ? url : undefined;
}

/** Spawns serve.ts in a child process and waits for the URL it prints. */
async function spawnServer(kind: 'origin' | 'rempart', opts: unknown): Promise<{ url: string; child: ChildProcess; close(): Promise<void> }> {
  // Extra Node flags for the shield's process only, to profile it under attack
  // (REMPART_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'; NODE_OPTIONS refuses --cpu-prof).
  const extra = kind === 'rempart' ? (process.env.REMPART_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', join(here, 'serve.ts'), kind, JSON.stringify(opts)], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind} did not start within 30 s: ${stderr}`)), 30_000);
    const onLine = (l: string): void => {
      const url = serverUrlOf(l);
      if (url === undefined) return;
      clearTimeout(t);
      lines.off('line', onLine);
      resolve(url);
    };
    lines.on('line', onLine);
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${kind} exited with ${code}: ${stderr.trim().split('\n').slice(-6).join('\n')}`)); });
  });
  return {
    url, child,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // our own child, by PID
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * A few seconds of light browsing through a fresh target before its first cell, the same for every
 * target: a Node process compiles its code on first use (JIT, lazily loaded modules), and without
 * this the first cell of a Node target measured its start-up as p99 (1.5-2.2 s in the `none` row).
 */
async function warmUp(url: string, site: { searchInPath?: boolean; searchPathSuffix?: string; searchByPost?: boolean } = {}): Promise<void> {
  const c = new Client(url, { pipelining: 1, connect: DRILL_TLS_OPTIONS });
  // The site's own search form (`--search-in-path`, `--search-by-post`): a browse of this site, not of another one.
  const search = searchRequest('colis', { searchInPath: site.searchInPath === true, searchPathSuffix: site.searchPathSuffix ?? '', searchByPost: site.searchByPost === true });
  const requests: Array<{ method: string; path: string; body?: string }> = [{ method: 'GET', path: '/' }, { method: 'GET', path: '/track' }, { method: 'GET', path: '/track/6A12345678901' }, search, { method: 'GET', path: '/bank/login' }, { method: 'GET', path: '/static/site.css' }];
  try {
    for (let i = 0; i < 60; i++) {
      const { method, path, body } = requests[i % requests.length] as { method: string; path: string; body?: string };
      const headers: Record<string, string> = { accept: i % 2 ? 'text/html' : 'application/json', ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) };
      const r = await c.request({ method, path, headers, ...(body !== undefined ? { body } : {}) }).catch(() => undefined);
      await r?.body.dump().catch(() => undefined);
      await sleep(40);
    }
  } finally {
    await c.close().catch(() => undefined);
  }
}

/**
 * Waits (at most `maxMs`) for the origin to have nothing in flight or queued; a warning when it never
 * did. Never throws: an origin that refuses its stats connection for a moment (its accept queue full
 * after a flood cell) is asked again, and one that never answers is a warning on the cell — a
 * rejection here once ended a 92-cell matrix run with an uncaught ECONNREFUSED.
 */
export async function originIdle(statsUrl: string, maxMs: number): Promise<string | undefined> {
  const u = new URL(statsUrl);
  const c = new Client(u.origin);
  const deadline = Date.now() + maxMs;
  let last: { inFlight: number; queued: number } | undefined;
  let failure: string | undefined;
  try {
    while (Date.now() < deadline) {
      try {
        const r = await c.request({ method: 'GET', path: u.pathname, headersTimeout: 2_000, bodyTimeout: 2_000 });
        last = (await r.body.json()) as { inFlight: number; queued: number };
        failure = undefined;
        if (last.inFlight === 0 && last.queued === 0) return undefined;
      } catch (err) {
        failure = (err as { code?: string }).code ?? (err as Error).message;
      }
      await sleep(200);
    }
  } finally {
    await c.close().catch(() => undefined);
  }
  if (failure !== undefined || last === undefined) {
    return `the origin's stats did not answer before the cell began (${failure ?? 'no answer'} for ${maxMs / 1000} s): its figures are not comparable`;
  }
  // A cell measured against a busy origin is not comparable with the others: say so in its report.
  return `the origin was not idle when the cell began (${last.inFlight} requests in flight, ${last.queued} queued after ${maxMs / 1000} s): its figures are not comparable`;
}

/** Runs the whole matrix and returns its cells; prints progress and the final table. */
export async function runDdosBench(o: DdosBenchOptions): Promise<BenchCell[]> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  for (const s of o.scenarios) getScenario(s);
  checkOverrides(o.scenarios, o.params);
  const layout = BENCH_LAYOUTS[o.layout ?? 'disjoint'];
  if (!layout) throw new Error(`unknown layout ${o.layout} (known: ${Object.keys(BENCH_LAYOUTS).join(', ')})`);
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-'));
  // Sockets the generator may open: what this process's open-files limit leaves, as for the
  // shield's listener (the drill's default, 8,000, is for a run at any target; the WebSocket hold
  // holds 12,000). Unknown limit: the default.
  const generatorSockets = Math.max(8000, connectionCapUnder(0, readOpenFilesLimit()));
  const needs = o.targets.filter((t) => t === 'nginx' || t === 'haproxy');
  if (needs.length) {
    const r = spawnSync('bash', [join(root, 'scripts', 'ensure-system-packages.sh'), ...needs], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) log(`warning: could not install ${needs.join(' ')}`);
  }
  const kill = o.killServerAtS;
  const restartAt = o.restartShieldAtS;
  // The shield's key, when the bench must mint what the shield would have issued before the run:
  // returning customers' reputations, or those bots farmed (scenarios that need the target's key).
  const secret = o.knownCustomers === true || o.scenarios.some((s) => getScenario(s).needsTargetKey === true) ? benchSecret() : undefined;
  const knownCookie = secret !== undefined && o.knownCustomers === true ? knownCustomerCookie(secret) : undefined;
  const farmedCookie = secret !== undefined ? (address: string, userAgent: string, ageS: number) => knownCustomerCookie(secret, Date.now, ageS)(address, userAgent) : undefined;
  // The failover run's two servers share their application state (signed sessions and payment ids,
  // as servers on one database would), so a customer whose server dies can go on on the other.
  const shape = benchOrigin(o);
  const capacity = originCapacity(shape);
  if (600 / capacity < 10) log(`warning: the origin's capacity (${capacity.toFixed(0)} lookups/s) makes the bench's 600 req/s floods ${(600 / capacity).toFixed(1)}× it, under the 10× the issue asks`);
  const originOpts = kill !== undefined ? { ...shape, stateSecret: randomBytes(16).toString('hex') } : shape;
  let origin = await spawnServer('origin', originOpts);
  const originPort = Number(new URL(origin.url).port);
  // The failover run's second server survives every cell: origin figures are its own.
  const second = kill !== undefined ? await spawnServer('origin', originOpts) : undefined;
  const ports = second ? [originPort, Number(new URL(second.url).port)] : [originPort];
  const statsUrl = `${(second ?? origin).url}/__origin/stats`;
  const targets: BenchTarget[] = [];
  if (o.h2 === true && o.tls !== true) throw new Error('--h2 needs --tls (HTTP/2 is offered in the TLS handshake, RFC 9113 §3.2)');
  if (o.h2Customers === true && o.h2 !== true) throw new Error('--h2-customers needs --h2 (the targets must offer HTTP/2)');
  const tls = o.tls === true ? { ...benchCertificate(), ...(o.h2 === true ? { http2: true } : {}) } : undefined;
  // How to start a shield afresh, by target name (Rempart targets).
  const restarts = new Map<string, (accessLog?: string, at?: { port: number; database?: string }) => ReturnType<typeof spawnServer>>();
  let shieldStarts = 0; // each shield process its own log file (the files go with the run's directory)
  const unavailable: Record<string, string> = {};
  const closers: Array<() => Promise<void>> = [() => origin.close(), ...(second ? [second.close] : [])];
  for (const name of o.targets) {
    try {
      if (name === 'direct' && o.tls === true) throw new Error('no TLS: the demo origin speaks plain HTTP (--tls measures the proxies)');
      if (name === 'direct') targets.push(directTarget(origin.url));
      else if (name === 'nginx') targets.push(await startNginx(ports, dir, tls));
      else if (name === 'haproxy') targets.push(await startHaproxy(ports, dir, tls));
      else if (name === 'rempart' || name === 'rempart-cache' || name === 'rempart-plain') {
        const cache = name === 'rempart-cache';
        const plain = name === 'rempart-plain';
        const start = (accessLog?: string, at?: { port: number; database?: string }): ReturnType<typeof spawnServer> =>
          spawnServer('rempart', { ...(second ? { originUrls: [origin.url, second.url] } : { originUrl: origin.url }), cache, plain,
            ...(accessLog !== undefined ? { accessLog } : o.shieldLog !== 'off' ? { logFile: join(dir, `${name}-${++shieldStarts}.log`) } : {}),
            ...(secret !== undefined ? { secret } : {}), ...(tls !== undefined ? { tls } : {}), ...at });
        if (o.accessLogDir !== undefined) mkdirSync(o.accessLogDir, { recursive: true });
        const s = await start(o.accessLogDir !== undefined && o.keepState ? join(o.accessLogDir, `${name}.jsonl`) : undefined);
        restarts.set(name, start);
        targets.push({
          name, url: s.url, close: s.close,
          description: `Rempart shield, default configuration, ${plain ? 'one route for everything (class normal, WebSocket allowed, no session cookie: the site undescribed)' : 'demo route classes and session cookie (sid)'}${cache ? ', response cache on /track (30 s) and /search (30 s, keyed on q)' : ''}${o.accessLogDir !== undefined ? ', every access log line (analysis)' : o.shieldLog === 'off' ? ', its log off (warnings only)' : ', its default log (access log within its budget) to a file'} (own process${o.keepState ? ', one for the whole run: state carried from cell to cell' : ', started afresh before each cell'})` +
            (second ? '; 2 servers, least outstanding, default passive ejection, probes GET /healthz every 1 s fall 2 rise 2, retries within the default budget' : ''),
        });
      } else throw new Error(`unknown target ${name}`);
      const t = targets[targets.length - 1];
      if (t) { closers.push(() => t.close()); await warmUp(t.url, o); }
    } catch (err) {
      unavailable[name] = (err as Error).message.split('\n')[0] ?? 'failed';
      log(`target ${name} unavailable: ${unavailable[name]}`);
    }
  }
  const cells: BenchCell[] = [];
  // Written after every cell as well as at the end, so a run that dies keeps what it measured.
  const writeJson = (complete: boolean): void => {
    if (o.json) writeFileSync(o.json, JSON.stringify({ options: { ...o, signal: undefined }, origin: shape, complete, cells }, null, 1));
  };
  try {
    const total = o.scenarios.length * targets.length;
    let n = 0;
    for (const [si, scenario] of o.scenarios.entries()) {
      for (const target of targets) {
        if (o.signal?.aborted) break;
        n++;
        // Everything a cell needs, its preparation included, fails as that cell: an error between
        // cells (a shield that would not restart, an origin gone) once ended a 92-cell run uncaught.
        let killer: NodeJS.Timeout | undefined;
        let restarter: NodeJS.Timeout | undefined;
        let restarting: Promise<void> | undefined;
        try {
          // Killed on purpose (--kill-server) or died under the last cell's flood: a fresh one, so
          // one dead origin costs its cell, not every cell after it.
          if (origin.child.exitCode !== null || origin.child.signalCode !== null) {
            if (kill === undefined) log(`warning: the origin exited (${origin.child.exitCode ?? origin.child.signalCode}) before ${scenario} × ${target.name}; started again`);
            origin = await spawnServer('origin', { ...originOpts, port: originPort });
            await sleep(3_000); // health checks (rise 2 × 1 s) see it back before the next cell
          }
          const restart = restarts.get(target.name);
          const cellLog = o.accessLogDir !== undefined ? join(o.accessLogDir, `${scenario}--${target.name}.jsonl`) : undefined;
          // A restart run's shield keeps its state in a file of the cell's own, on a port it gets back.
          const stateFile = restart && restartAt !== undefined && o.restartForgets !== true ? join(dir, `${scenario}--${target.name}.db`) : undefined;
          if (restart && !o.keepState && (si > 0 || targets.indexOf(target) > 0 || o.accessLogDir !== undefined || restartAt !== undefined)) {
            // A fresh shield, started just before its cell (not idle through the other targets' cells).
            await target.close();
            const s = await restart(cellLog, stateFile !== undefined ? { port: 0, database: stateFile } : undefined);
            target.url = s.url;
            target.close = s.close;
            await warmUp(s.url, o);
          }
          if (restart && restartAt !== undefined) {
            // Our own child, by PID (target.close): stopped gracefully and started again on its port.
            const port = Number(new URL(target.url).port);
            restarter = setTimeout(() => {
              restarting = (async () => {
                await target.close();
                const s = await restart(cellLog, { port, ...(stateFile !== undefined ? { database: stateFile } : {}) });
                target.close = s.close;
              })().catch((err: unknown) => { log(`warning: ${scenario} × ${target.name}: the restart failed: ${(err as Error).message}`); });
            }, restartAt * 1000);
          }
          const busy = await originIdle(statsUrl, 10_000);
          // Our own child, by PID: the first origin server dies mid-attack.
          if (kill !== undefined) killer = setTimeout(() => origin.child.kill('SIGKILL'), kill * 1000);
          const report = await runDrill({
            target: target.url, scenario, durationS: o.durationS, timeScale: o.timeScale, ...(o.leadS !== undefined ? { leadS: o.leadS } : {}),
            seed: o.seed * 1000 + si, // same traffic shape for every target of a scenario
            params: benchParams(scenario, o.params), ...BENCH_USERS, usersPerAddress: layout.usersPerAddress, layout: layout.layout,
            userSettings: {
              ...BENCH_USER_SETTINGS, ...(o.pageRequests !== undefined ? { pageRequests: [o.pageRequests, o.pageRequests] as [number, number] } : {}),
              ...(o.longSearchShare !== undefined ? { longSearchShare: o.longSearchShare } : {}),
              ...(o.searchInPath === true ? { searchInPath: true, ...(o.searchPathSuffix !== undefined ? { searchPathSuffix: o.searchPathSuffix } : {}) } : {}),
              ...(o.searchByPost === true ? { searchByPost: true } : {}),
              ...(o.h2Customers === true ? { h2: true } : {}),
            },
            originStats: statsUrl, signal: o.signal, ...(knownCookie !== undefined ? { knownCookie } : {}), ...(farmedCookie !== undefined ? { farmedCookie } : {}),
            maxConnections: generatorSockets,
          });
          if (busy !== undefined) { report.generator.warnings.push(busy); log(`warning: ${scenario} × ${target.name}: ${busy}`); }
          cells.push({ target: target.name, scenario, report });
          log(`[${n}/${total}] ${scenario} × ${target.name}: legit ${pct(report.legit.all.successRatio)}, p99 ${ms(report.legit.all.p99)}, mitigated ${mitigationText(report.legit.mitigation)}, ` +
            `attack sent ${int(report.attack.totals.achievedRatePerS)}/s, reaching origin ${report.origin.attackReached ?? 'n/a'} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
          if (o.htmlDir) { mkdirSync(o.htmlDir, { recursive: true }); writeFileSync(join(o.htmlDir, `${scenario}--${target.name}.html`), renderHtml(report)); }
        } catch (err) {
          cells.push({ target: target.name, scenario, report: null, error: (err as Error).message });
          log(`[${n}/${total}] ${scenario} × ${target.name}: failed: ${(err as Error).message}`);
        } finally {
          clearTimeout(killer);
          clearTimeout(restarter);
          await restarting;
          writeJson(false);
        }
      }
    }
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const elapsedS = (Date.now() - t0) / 1000;
  const md = renderBenchMarkdown(cells, targets, unavailable, o, elapsedS);
  (o.out ?? ((m: string) => process.stdout.write(`${m}\n`)))(md);
  writeJson(true);
  if (o.record) replaceMarkdownSection(o.record, kill !== undefined ? 'bench:ddos-kill-server' : restartAt !== undefined ? 'bench:ddos-restart' : 'bench:ddos', md);
  return cells;
}

/** The table: scenario × target → legitimate success, p99 per class, attack offered and reaching the origin. */
export function renderBenchMarkdown(cells: BenchCell[], targets: BenchTarget[], unavailable: Record<string, string>, o: DdosBenchOptions, elapsedS: number): string {
  const lines: string[] = [];
  const cmd = `npx tsx src/cli/main.ts ${(o.argv ?? ['bench', 'ddos']).join(' ')}`;
  lines.push(`Command: \`${cmd}\` — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, whole matrix in ${elapsedS.toFixed(0)} s.`, '');
  const shape = benchOrigin(o);
  const capacity = originCapacity(shape);
  lines.push(`Origin (src/demo/origin, own process${o.origin ? ', **not the bench\'s default** (`--origin`)' : ''}): ${shape.maxInFlight} workers, queue ${shape.maxQueue}, ${shape.serviceMs} ms per lookup${shape.serviceSpread ? ` (each ±${Math.round(shape.serviceSpread * 100)}%, uniform)` : ''} ` +
    `→ capacity ${Number(capacity.toFixed(1))} req/s on its cheapest route (search ${Number((capacity / 2).toFixed(1))}/s, login ${(capacity / 3).toFixed(0)}/s). ` +
    `Legitimate users: ${BENCH_USERS.trackingUsers} tracking + ${BENCH_USERS.bankingUsers} banking (every banking session pays), think times ÷${o.timeScale}; ` +
    `address layout **${o.layout ?? 'disjoint'}**: ${BENCH_LAYOUTS[o.layout ?? 'disjoint'].doc}; ` +
    (o.pageRequests ? `**the account page's script sends ${o.pageRequests} requests at once** for its data (\`--page-requests\`); ` : '') +
    `${Math.round((o.longSearchShare ?? DEFAULT_USER_SETTINGS.longSearchShare) * 100)}% of the customers' searches typed as 4–10 words (\`--long-searches\`); ` +
    (o.searchByPost === true ? '**the site\'s search form posts its terms** (`POST /search`, `q=colis+suivi`, `--search-by-post`), the costly-search flood\'s too; ' : '') +
    (o.searchInPath === true ? `**the site's search takes its terms in the path** (\`${searchTarget('colis+suivi', { searchInPath: true, searchPathSuffix: o.searchPathSuffix ?? '' })}\`, \`--search-in-path\`${o.searchPathSuffix ? ', `--search-path-suffix`' : ''}), the costly-search flood's too; ` : '') +
    (o.knownCustomers === true ? '**returning customers**: each holds a reputation Rempart issued a week before (`--known-customers`); ' : '') +
    (o.tls === true ? `every target over **TLS**${o.h2 === true ? ' offering **HTTP/2** (`--h2`)' : ''}; the customers speak ${o.h2Customers === true ? '**HTTP/2**, one connection each (`--h2-customers`)' : 'HTTP/1.1'}; ` : '') +
    `${o.durationS} s per cell, attack from ${o.leadS !== undefined ? `${Math.min(o.leadS, o.durationS * 0.75)} s on (--lead)` : '3 s on (browse-then-flood: after its bots\' warm-up)'}; figures cover attempts started during the attack.`, '');
  if (o.restartShieldAtS !== undefined) {
    lines.push(`**Restart run**: each Rempart is stopped (SIGTERM, graceful) ${o.restartShieldAtS} s into each cell and started again on its port, ` +
      (o.restartForgets === true ? 'with no state file: the restarted shield starts from nothing (baselines, origin sessions, reputation roster).'
        : 'with its state in a SQLite file of the cell\'s own (`storage.database`: learned baselines, origin sessions, the reputation roster).') +
      ' Requests in flight at the stop and sent while it is down fail as they would for a customer.', '');
  }
  if (o.killServerAtS !== undefined) {
    lines.push(`**Failover run**: two origin servers of that capacity each; the first is killed (SIGKILL) ${o.killServerAtS} s into each cell, ` +
      'mid-attack, and restarted between cells. They share their application state (signed sessions and payment ids, as on one database), ' +
      'so a customer whose server died can go on on the other. The direct target is the killed server itself; origin figures are the surviving server\'s.', '');
  }
  lines.push('Targets:', ...targets.map((t) => `- **${t.name}**: ${t.description}`), ...Object.entries(unavailable).map(([k, v]) => `- **${k}**: not run (${v})`), '');
  const params = o.scenarios.map((s) => [s, benchParams(s, o.params)] as const).filter(([, p]) => Object.keys(p).length > 0)
    .map(([s, p]) => `${s} ${Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (params.length) lines.push(`Attack parameters: ${params.join('; ')}.`, '');
  lines.push('| scenario | target | legit success | checkouts | mitigated after | p99 critical (× none) | p99 high | p99 normal | p99 low | attack sent/s (asked) | attack → origin | origin served / 503 |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  // The no-attack row of each target is the baseline of its critical p99.
  const baseline = new Map(cells.filter((c) => c.scenario === 'none' && c.report).map((c) => [c.target, c.report!.legit.classes.critical]));
  for (const c of cells) {
    const r = c.report;
    if (!r) { lines.push(`| ${c.scenario} | ${c.target} | failed: ${c.error ?? ''} | | | | | | | | | |`); continue; }
    const p99 = DRILL_CLASSES.map((k) => (r.legit.classes[k].attempts ? ms(r.legit.classes[k].p99) : '—'));
    const base = baseline.get(c.target);
    const crit = r.legit.classes.critical;
    if (crit.attempts && base?.attempts && c.scenario !== 'none') p99[0] = `${p99[0]} (${(crit.p99 / base.p99).toFixed(1)}×)`;
    const pay = r.legit.goals.payment;
    const checkouts = pay && pay.attempts > 0 ? `${pct(pay.successRatio)} (${pay.ok}/${pay.attempts})` : '—';
    const a = r.attack.components;
    const slow = a.find((x) => x.kind === 'slow');
    const flood = a.some((x) => x.kind === 'flood') ? `${int(r.attack.totals.achievedRatePerS)} (${int(r.attack.totals.requestedRatePerS)})` : '';
    const conns = slow?.connectionsPerS !== undefined ? `${int(slow.connectionsPerS)} conns/s opened`
      : `${int(slow?.peakHeld ?? 0)} conns held${slow?.messagesPerS !== undefined ? `, ${int(slow.messagesPerS)} msgs/s` : ''}${slow?.streamsPerS !== undefined ? `, ${int(slow.streamsPerS)} streams/s opened` : ''}`;
    const offered = slow ? `${conns}${flood ? ` + ${flood}` : ''}` : flood || '—';
    const reach = r.origin.attackReached === null ? 'n/a' : int(r.origin.attackReached);
    lines.push(`| ${c.scenario} | ${c.target} | ${pct(r.legit.all.successRatio)} | ${checkouts} | ${mitigationText(r.legit.mitigation)} | ${p99.join(' | ')} | ${offered} | ${a.length ? reach : '—'} | ${int(r.origin.served)} / ${int(r.origin.rejected)} |`);
  }
  const totals = checkoutTotals(cells);
  if (totals.length) {
    lines.push('', `Checkouts over the attack cells (every scenario but none and flash-crowd): ${totals.map((t) =>
      `${t.target} ${t.ok}/${t.attempts} (${pct(t.ok / t.attempts)}, ≥ ${pct(wilsonLower(t.ok, t.attempts))} at 95% confidence)`).join('; ')}.`);
  }
  const critN = cells.filter((c) => c.scenario !== 'none' && c.report).map((c) => c.report!.legit.classes.critical.attempts).sort((a, b) => a - b);
  if (critN.length) {
    // A p99 over a few dozen attempts is the slowest one or the one before it: one login that waited decides it.
    lines.push('', `Critical attempts per attack cell: median ${critN[Math.floor(critN.length / 2)]} (${critN[0]}–${critN[critN.length - 1]}); ` +
      'under 100 attempts, a p99 is the slowest attempt or the next one.');
  }
  lines.push('', 'Legit success: share of legitimate attempts (all classes) that ended 2xx/3xx; mitigated after: seconds from the attack onset until every ' +
    '2 s window of legitimate attempts (by start) is >= 99% successful for the rest of the run ("never" if the last window still fails); ' +
    'checkouts: payment authorizations created and polled to approval / payment sessions begun (whole run); ' +
    'p99 per class over ended attempts, failures included, critical also as a multiple of the same target\'s no-attack p99 ' +
    '(— = no attempt of that class started during the attack). Attack sent/s is what was written to sockets, never the rate asked ' +
    `(capacity ×${(600 / capacity).toFixed(0)} at 600 req/s); for the slow attacks, the peak of connections held (for connect-flood, connections opened per second). Attack → origin: requests from attacker ` +
    'addresses the origin served or rejected (it counts per client address, through X-Forwarded-For).');
  const warnings = cells.flatMap((c) => (c.report?.generator.warnings ?? []).map((w) => `- ${c.scenario} × ${c.target}: ${w}`));
  if (warnings.length) lines.push('', 'Generator and measurement warnings:', ...warnings);
  return lines.join('\n');
}

/** Payments completed / begun per target, summed over the cells with an attack. */
function checkoutTotals(cells: readonly BenchCell[]): { target: string; ok: number; attempts: number }[] {
  const by = new Map<string, { target: string; ok: number; attempts: number }>();
  for (const c of cells) {
    const pay = c.report?.legit.goals.payment;
    if (!pay || pay.attempts === 0 || c.scenario === 'none' || c.scenario === 'flash-crowd') continue;
    const t = by.get(c.target) ?? { target: c.target, ok: 0, attempts: 0 };
    t.ok += pay.ok;
    t.attempts += pay.attempts;
    by.set(c.target, t);
  }
  return [...by.values()];
}

/**
 * Lower bound of the Wilson score interval (95%, z = 1.96) for `ok` successes in `n` trials: how
 * low the true completion rate may be given what was seen (52/52 bounds it only above ~93%; about 385/385 are needed for 99%).
 */
export function wilsonLower(ok: number, n: number, z = 1.96): number {
  if (n === 0) return 0;
  const p = ok / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}
