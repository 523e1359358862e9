import { parseConfig, startShield } from '../../shield/index.js';
import { freePort } from '../../core/free-port.js';
import { createLogger } from '../../core/logger.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A target under test, in front of the bench's origin. */
export interface BenchTarget {
  name: string;
  url: string;
  /** What this target is configured to do, printed with the table. */
  description: string;
  close(): Promise<void>;
}

/** The per-address limits the hardened nginx and HAProxy use (an operator's usual values). */
export const HARDENED = {
  ratePerS: 10, burst: 20, connectionsPerAddress: 20, headerTimeoutS: 5, bodyTimeoutS: 5, keepAliveS: 15,
} as const;

async function waitListening(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // in use: the target is listening
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM'); // our own child, by PID
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
}

/**
 * The certificate every target serves with `--tls`: its PEM files (HAProxy gets them joined in one:
 * startHaproxy); `http2`: every target also offers h2 in ALPN (`--h2`: nginx `listen … ssl http2`,
 * HAProxy `alpn h2,http/1.1`, Rempart `listen.tls.http2`).
 */
export interface BenchCertificate { readonly cert: string; readonly key: string; readonly http2?: boolean }

/**
 * A checkout's test certificate (test/fixtures/tls/site-a: ECDSA P-256, names a.example, *.a.example
 * and 127.0.0.1, valid a century): what `bench ddos --tls` serves on every target. Throws where there
 * is none (a published package ships no test fixtures).
 */
export function benchCertificate(): BenchCertificate {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const cert = join(root, 'test/fixtures/tls/site-a.cert.pem');
  const key = join(root, 'test/fixtures/tls/site-a.key.pem');
  if (!existsSync(cert) || !existsSync(key)) throw new Error(`--tls needs the test certificate of a checkout (${cert})`);
  return { cert, key };
}

/** The origin itself, no protection. */
export function directTarget(originUrl: string): BenchTarget {
  return { name: 'direct', url: originUrl, description: 'the origin itself, no protection', close: async () => undefined };
}

/**
 * How the proxies watch several origin servers (the kill-server run): nginx passive `max_fails`,
 * HAProxy active `check`, Rempart both; probe timings alike (every second, 2 to fall, 2 to rise).
 */
export const FAILOVER = { maxFails: 1, failTimeoutS: 10, checkInterS: 1, fall: 2, rise: 2 } as const;

/** nginx hardened as operators do: limit_req and limit_conn per address, header/body timeouts. */
export async function startNginx(originPorts: number | readonly number[], dir: string, tls?: BenchCertificate): Promise<BenchTarget> {
  const ports = typeof originPorts === 'number' ? [originPorts] : originPorts;
  // Several servers: nginx's passive health (max_fails/fail_timeout) and proxy_next_upstream (default
  // "error timeout": a refused connection is tried on the next server, a POST only if nothing was sent).
  const servers = ports.map((p) => `server 127.0.0.1:${p}${ports.length > 1 ? ` max_fails=${FAILOVER.maxFails} fail_timeout=${FAILOVER.failTimeoutS}s` : ''};`).join(' ');
  const port = await freePort();
  const d = join(dir, 'nginx');
  mkdirSync(d, { recursive: true });
  const h = HARDENED;
  const conf = `worker_processes 1;
worker_rlimit_nofile 20000;
error_log ${d}/error.log error;
pid ${d}/nginx.pid;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi; uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  limit_req_zone $binary_remote_addr zone=perip:10m rate=${h.ratePerS}r/s;
  limit_conn_zone $binary_remote_addr zone=connperip:10m;
  limit_req_status 429;
  limit_conn_status 429;
  client_header_timeout ${h.headerTimeoutS}s;
  client_body_timeout ${h.bodyTimeoutS}s;
  send_timeout 10s;
  keepalive_timeout ${h.keepAliveS}s;
  client_max_body_size 64k;
  upstream origin { ${servers} keepalive 32; }
  server {
    listen 127.0.0.1:${port} backlog=4096${tls ? ` ssl${tls.http2 === true ? ' http2' : ''};
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key}` : ''};
    limit_conn connperip ${h.connectionsPerAddress};
    # Live parcel tracking: WebSocket upgrades passed through (nginx's documented proxying of them).
    location /live/ {
      limit_req zone=perip burst=${h.burst} nodelay;
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }
    location / {
      limit_req zone=perip burst=${h.burst} nodelay;
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_connect_timeout 2s;
      proxy_read_timeout 10s;
    }
  }
}
`;
  const file = join(d, 'nginx.conf');
  writeFileSync(file, conf);
  const test = spawnSync('nginx', ['-t', '-q', '-p', d, '-c', file], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t failed: ${test.stderr}`);
  const child = spawn('nginx', ['-p', d, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitListening(port, child);
  return {
    name: 'nginx', url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    description: `nginx, 1 worker: limit_req ${h.ratePerS} r/s burst ${h.burst} nodelay per address, limit_conn ${h.connectionsPerAddress}, client_header_timeout/client_body_timeout ${h.headerTimeoutS}s` +
      (ports.length > 1 ? `; ${ports.length} servers, max_fails=${FAILOVER.maxFails} fail_timeout=${FAILOVER.failTimeoutS}s, proxy_next_upstream default (error timeout)` : ''),
    close: () => stopChild(child),
  };
}

/** HAProxy with a stick table on http_req_rate(10s) per source, a per-source connection cap and timeout http-request. */
export async function startHaproxy(originPorts: number | readonly number[], dir: string, tls?: BenchCertificate): Promise<BenchTarget> {
  const ports = typeof originPorts === 'number' ? [originPorts] : originPorts;
  const f = FAILOVER;
  // Several servers: active checks (GET /healthz), and a failed connection retried on another server (redispatch).
  const backend = ports.length > 1
    ? `  option httpchk GET /healthz\n  option redispatch\n  retries 2\n${ports.map((p, i) => `  server origin${i} 127.0.0.1:${p} maxconn 64 check inter ${f.checkInterS}s fall ${f.fall} rise ${f.rise}`).join('\n')}\n`
    : `  server origin 127.0.0.1:${ports[0]} maxconn 64\n`;
  const port = await freePort();
  const d = join(dir, 'haproxy');
  mkdirSync(d, { recursive: true });
  const h = HARDENED;
  // HAProxy reads the certificate and its key from one file.
  const pem = tls ? join(d, 'site.pem') : undefined;
  if (tls && pem) writeFileSync(pem, readFileSync(tls.cert, 'utf8') + readFileSync(tls.key, 'utf8'));
  // maxconn sizes the FD limit HAProxy asks for (about 2 per connection); stay under a 20000 ulimit.
  const conf = `global
  maxconn 9000
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 10s
  timeout http-request ${h.headerTimeoutS}s
  timeout http-keep-alive ${h.keepAliveS}s
  option forwardfor
frontend fe
  bind 127.0.0.1:${port}${pem ? ` ssl crt ${pem}${tls?.http2 === true ? ' alpn h2,http/1.1' : ''}` : ''}
  stick-table type ip size 200k expire 30s store http_req_rate(10s),conn_cur
  tcp-request connection track-sc0 src
  tcp-request connection reject if { sc0_conn_cur gt ${h.connectionsPerAddress} }
  http-request deny deny_status 429 if { sc0_http_req_rate gt ${h.ratePerS * 10} }
  default_backend be
backend be
${backend}`;
  const file = join(d, 'haproxy.cfg');
  writeFileSync(file, conf);
  const test = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`haproxy -c failed: ${test.stderr}${test.stdout}`);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitListening(port, child);
  return {
    name: 'haproxy', url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    description: `HAProxy, 1 thread: stick table http_req_rate(10s) > ${h.ratePerS * 10} → 429 per source, conn_cur > ${h.connectionsPerAddress} rejected, timeout http-request ${h.headerTimeoutS}s` +
      (ports.length > 1 ? `; ${ports.length} servers, check inter ${f.checkInterS}s fall ${f.fall} rise ${f.rise} (GET /healthz), option redispatch, retries 2` : ''),
    close: () => stopChild(child),
  };
}

/** The shield's route table for the demo origin, by class (PRODUCT.md: critical login and payments). */
export function rempartRoutes(upstream: string, cache = false): Array<Record<string, unknown>> {
  // With `cache`: what an operator would cache on this site — tracking answers (keyed on the path,
  // which holds the parcel id) and search results keyed on `q` only.
  const track = cache ? { cache: { ttlS: 30, query: [] } } : {};
  const search = cache ? { cache: { ttlS: 30, query: ['q'] } } : {};
  return [
    { match: { path: '/api/pay/' }, upstream, class: 'critical' },
    { match: { path: '/bank/login', method: 'POST' }, upstream, class: 'critical' },
    { match: { path: '/bank/' }, upstream, class: 'high' },
    // Live parcel tracking (the demo origin's WebSocket), as the demo configures it.
    { match: { path: '/live/' }, upstream, class: 'normal', websocket: true },
    { match: { path: '/track' }, upstream, class: 'normal', ...track },
    { match: { path: '/search' }, upstream, class: 'normal', ...search },
    { match: { path: '/static/' }, upstream, class: 'low' },
    { match: { path: '/' }, upstream, class: 'low' },
  ];
}

/** Rempart's shield with its defaults, through its public programmatic API. */
export async function startRempart(originUrl: string | readonly string[], opts: { cache?: boolean; plain?: boolean; accessLog?: string; logFile?: string; secret?: string; port?: number; database?: string; tls?: BenchCertificate } = {}): Promise<BenchTarget> {
  const urls = typeof originUrl === 'string' ? [originUrl] : originUrl;
  const f = FAILOVER;
  // Several servers: default passive ejection plus probes timed like HAProxy's checks.
  const upstream = urls.length > 1
    ? { servers: urls.map((url) => ({ url })), health: { active: { path: '/healthz', intervalMs: f.checkInterS * 1000, timeoutMs: 1_000, fall: f.fall, rise: f.rise } } }
    : { url: urls[0] };
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: opts.port ?? 0, ...(opts.tls ? { tls: { certificates: [{ cert: opts.tls.cert, key: opts.tls.key }], http2: opts.tls.http2 === true } } : {}) },
    admin: { address: '127.0.0.1', port: 0 },
    upstreams: { origin: upstream },
    // A restart run's state file (--restart-shield): what the shield keeps across a restart.
    ...(opts.database !== undefined ? { storage: { database: opts.database } } : {}),
    // `plain`: what an operator who described nothing of the site starts with — one route for
    // everything (class normal; WebSocket upgrades allowed, or the site's live page would not work
    // in normal times either), no session cookie named.
    routes: opts.plain === true ? [{ match: { path: '/' }, upstream: 'origin', websocket: true }] : rempartRoutes('origin', opts.cache === true),
    // The site's description, as its routes are: the demo bank's session cookie. Only with
    // --known-customers: the key their week-old reputations were signed with.
    detection: { ...(opts.plain === true ? {} : { sessionCookies: ['sid'] }), ...(opts.secret !== undefined ? { secret: opts.secret } : {}) },
    // Logging: with logFile, the product's default (info, access log on, unforwarded lines within
    // their budget), written to that file as a deployment writes to its journal — the configuration
    // the bench claims to measure. With accessLog (analysis), every line, the customers' refusals
    // too. With neither, warnings only (tests, and --shield-log off to compare).
    ...(opts.accessLog !== undefined ? { log: { level: 'info', access: true, accessUnforwardedPerS: 0 } }
      : opts.logFile !== undefined ? {} : { log: { level: 'warn', access: false } }),
  });
  const destination = opts.accessLog ?? opts.logFile;
  const shield = await startShield({ config, ...(destination !== undefined ? { logger: createLogger(config.log.level, { destination }) } : {}) });
  return { name: 'rempart', url: shield.url, description: 'Rempart shield with its default configuration, the demo route classes and session cookie', close: () => shield.close() };
}
