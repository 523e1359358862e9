/**
 * bench:tls — what TLS on the shield's listener costs, and what the connection gate in front of the
 * handshake saves, on loopback, in one run:
 *   1. keep-alive HTTPS (wrk -c 64): Rempart over TLS, Rempart over plain HTTP, nginx over TLS (1
 *      worker, `ssl` on its listen, the same ECDSA P-256 certificate), all in front of an nginx
 *      `return 200` origin — the price of the encryption per request.
 *   2. a new TLS connection per request (`Connection: close`): every request a full handshake —
 *      handshakes a second, and the shield's CPU per handshake (/proc) against a plain connection's.
 *   3. TLS hellos from a blocked /16 (127.80.0.0/16 in the shield's blocklist) against the same
 *      rate from an allowed /16: the shield's CPU per attempt. The gate resets a blocked source
 *      before any TLS byte, so a blocked attempt should cost an accept and a reset, not a handshake.
 *   4. one source handshaking and leaving in a loop (32 at a time, as fast as it can) while a
 *      customer makes a request on a new TLS connection every 100 ms: the shield with its default
 *      allowance of empty connections (10/s, burst 100 on TLS) against the same with it off.
 * Rempart runs compiled (dist), detection in dry run (wrk is one client flooding). Rounds are
 * interleaved so the machine's noise hits every target alike; medians are reported.
 * Usage: npm run bench:tls [-- --duration 6 --rounds 3 --rate 300 --no-record]
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runWrk, type WrkResult } from './lib/wrk.js';
import { nginxBinary, writeNginxConf } from './lib/nginx.js';
import { median, numberArg } from './lib/args.js';
import { pacedAttempts, processCpuSeconds, randomAddressIn } from './lib/attempts.js';
import { startProcess, waitForPort, type Started } from './lib/processes.js';
import { freePort } from '../src/core/free-port.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';

const durationS = numberArg('duration', 6);
const rounds = numberArg('rounds', 3);
const rate = numberArg('rate', 300);
const CERT = resolve('test/fixtures/tls/site-a.cert.pem');
const KEY = resolve('test/fixtures/tls/site-a.key.pem');

spawnSync('bash', ['scripts/ensure-system-packages.sh', 'nginx', 'wrk'], { stdio: 'inherit' });
const NGINX = nginxBinary();
const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-tls-'));
chmodSync(dir, 0o777);
const closeScript = join(dir, 'close.lua');
writeFileSync(closeScript, 'wrk.headers["Connection"] = "close"\n');

/** `rate` TLS connection attempts a second for `durationS` from random addresses of 127.`net`.0.0/16; each closed once secure, refused or after 1 s. */
async function hellos(port: number, net: number): Promise<{ attempts: number; secured: number }> {
  const r = await pacedAttempts(rate, durationS, () => new Promise<boolean>((done) => {
    const s = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port, localAddress: randomAddressIn(net) }), servername: 'a.example', rejectUnauthorized: false });
    const timer = setTimeout(() => { s.destroy(); done(false); }, 1_000);
    s.on('error', () => { clearTimeout(timer); s.destroy(); done(false); });
    s.once('secureConnect', () => { clearTimeout(timer); s.destroy(); done(true); });
  }));
  return { attempts: r.attempts, secured: r.succeeded };
}

/** One source (127.85.0.1) handshaking and leaving, `concurrency` at a time, for `durationS`: attempts and handshakes done. */
async function handshakeLoop(port: number, concurrency: number): Promise<{ attempts: number; secured: number }> {
  let attempts = 0;
  let secured = 0;
  const until = performance.now() + durationS * 1000;
  const one = (): Promise<void> => new Promise((done) => {
    attempts++;
    const s = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port, localAddress: '127.85.0.1' }), servername: 'a.example', rejectUnauthorized: false });
    const timer = setTimeout(() => { s.destroy(); done(); }, 2_000);
    s.once('secureConnect', () => { secured++; clearTimeout(timer); s.destroy(); done(); });
    s.on('error', () => { clearTimeout(timer); s.destroy(); done(); });
  });
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < until) await one(); }));
  return { attempts, secured };
}

/** A customer's request on a new TLS connection from 127.86.0.1: ms to the whole answer, NaN if it failed or took over 5 s. */
function customerRequest(port: number): Promise<number> {
  const t = performance.now();
  return new Promise((done) => {
    const s = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port, localAddress: '127.86.0.1' }), servername: 'a.example', rejectUnauthorized: false });
    const timer = setTimeout(() => { s.destroy(); done(Number.NaN); }, 5_000);
    let got = '';
    s.once('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n'));
    s.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    s.on('error', () => { clearTimeout(timer); done(Number.NaN); });
    s.once('close', () => { clearTimeout(timer); done(got.startsWith('HTTP/1.1 200') ? performance.now() - t : Number.NaN); });
  });
}

const [originPort, nginxPort, tlsPort, tlsAdmin, plainPort, plainAdmin, openPort, openAdmin] = await Promise.all(Array.from({ length: 8 }, () => freePort())) as [number, number, number, number, number, number, number, number];
const started: Started[] = [];
try {
  started.push(startProcess(NGINX, ['-e', join(dir, 'origin-error.log'), '-c', writeNginxConf(dir, 'origin', `
  server { listen 127.0.0.1:${originPort}; location / { default_type application/json; return 200 '{"ok":true}'; } }`)]));
  started.push(startProcess(NGINX, ['-e', join(dir, 'nginx-error.log'), '-c', writeNginxConf(dir, 'nginx', `
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort} ssl;
    ssl_certificate ${CERT};
    ssl_certificate_key ${KEY};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`)]));
  const conf = (port: number, admin: number, tls: boolean, limits = ''): string => {
    const file = join(dir, `rempart-${port}.yaml`);
    writeFileSync(file, `
listen:
  address: 127.0.0.1
  port: ${port}
${tls ? `  tls: { certificates: [ { cert: ${CERT}, key: ${KEY} } ] }` : ''}
${limits}
admin: { address: 127.0.0.1, port: ${admin} }
upstreams: { origin: { url: http://127.0.0.1:${originPort}, connections: 64 } }
routes: [ { match: { path: / }, upstream: origin, class: normal } ]
rateLimits: { perClient: { normal: { ratePerS: 1000000000, burst: 1000000000 } } }
blocklist: [ { cidr: 127.80.0.0/16, reason: bench } ]
# wrk is one client flooding: detection would challenge it. Dry run decides everything, enforces nothing.
detection: { enabled: true, dryRun: true }
log: { level: warn, access: false }
`);
    return file;
  };
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  const tlsShield = startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', conf(tlsPort, tlsAdmin, true)]);
  const plainShield = startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', conf(plainPort, plainAdmin, false)]);
  // The same TLS shield with no allowance of empty connections (phase 4's comparison).
  const openShield = startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', conf(openPort, openAdmin, true, '  limits: { emptyConnectionsPerClient: { ratePerS: 0, burst: 0 } }')]);
  started.push(tlsShield, plainShield, openShield);
  await Promise.all([originPort, nginxPort, tlsPort, plainPort, openPort].map((p) => waitForPort(p)));

  type Target = { url: string; pid?: number };
  const targets: Record<string, Target> = {
    'rempart-tls': { url: `https://127.0.0.1:${tlsPort}/`, pid: tlsShield.child.pid! },
    'rempart-http': { url: `http://127.0.0.1:${plainPort}/`, pid: plainShield.child.pid! },
    'nginx-tls': { url: `https://127.0.0.1:${nginxPort}/` },
  };
  const names = Object.keys(targets);
  const keep: Record<string, WrkResult[]> = Object.fromEntries(names.map((n) => [n, []]));
  const churn: Record<string, WrkResult[]> = Object.fromEntries(names.map((n) => [n, []]));
  const churnCpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await runWrk(targets[n]!.url, { connections: 64, durationS: 2 }); // warm-up: JIT, pools
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      keep[n]!.push(await runWrk(targets[n]!.url, { connections: 64, durationS }));
      const pid = targets[n]!.pid;
      const before = pid !== undefined ? processCpuSeconds(pid) : 0;
      const c = await runWrk(targets[n]!.url, { connections: 64, durationS, script: closeScript });
      churn[n]!.push(c);
      if (pid !== undefined) churnCpu[n]!.push(((processCpuSeconds(pid) - before) / Math.max(1, c.requests)) * 1e6);
      process.stderr.write(`round ${r + 1}/${rounds} ${n}: keep-alive ${Math.round(keep[n]!.at(-1)!.rps)} req/s, new connection each ${Math.round(c.rps)} req/s\n`);
    }
  }

  // Phase 3: hellos from a blocked and from an allowed /16, interleaved; CPU above idle per attempt.
  const pid = tlsShield.child.pid!;
  const idleBefore = processCpuSeconds(pid);
  await new Promise((r) => setTimeout(r, durationS * 1000));
  const idle = processCpuSeconds(pid) - idleBefore;
  const perAttempt: Record<'blocked' | 'allowed', number[]> = { blocked: [], allowed: [] };
  const securedShare: Record<'blocked' | 'allowed', number[]> = { blocked: [], allowed: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [kind, net] of [['blocked', 80], ['allowed', 82]] as const) {
      const before = processCpuSeconds(pid);
      const h = await hellos(tlsPort, net);
      perAttempt[kind].push((Math.max(0, processCpuSeconds(pid) - before - idle) / h.attempts) * 1e6);
      securedShare[kind].push(h.secured / h.attempts);
      process.stderr.write(`round ${r + 1}/${rounds} ${kind} hellos: ${h.attempts} attempts, ${(100 * h.secured / h.attempts).toFixed(1)}% secured\n`);
    }
  }

  // Phase 4: one source handshaking in a loop; a customer on a new TLS connection every 100 ms.
  const loop: Record<'limited' | 'open', { handshakes: number[]; cpu: number[]; customerMs: number[]; customerFailed: number[] }> = {
    limited: { handshakes: [], cpu: [], customerMs: [], customerFailed: [] }, open: { handshakes: [], cpu: [], customerMs: [], customerFailed: [] },
  };
  for (let r = 0; r < rounds; r++) {
    for (const [kind, port, p] of [['limited', tlsPort, tlsShield.child.pid!], ['open', openPort, openShield.child.pid!]] as const) {
      const before = processCpuSeconds(p);
      const probes: Array<Promise<number>> = [];
      const probe = setInterval(() => probes.push(customerRequest(port)), 100);
      const h = await handshakeLoop(port, 32);
      clearInterval(probe);
      const times = await Promise.all(probes);
      loop[kind].handshakes.push(h.secured / durationS);
      loop[kind].cpu.push((processCpuSeconds(p) - before) / durationS);
      loop[kind].customerMs.push(median(times.filter((x) => Number.isFinite(x))));
      loop[kind].customerFailed.push(times.filter((x) => !Number.isFinite(x)).length / Math.max(1, times.length));
      process.stderr.write(`round ${r + 1}/${rounds} handshake loop, ${kind}: ${h.attempts} attempts, ${h.secured} secured, customer median ${loop[kind].customerMs.at(-1)!.toFixed(1)} ms\n`);
    }
  }

  const m = (xs: number[]): number => median(xs);
  const w = (rs: WrkResult[], k: keyof WrkResult): number => median(rs.map((x) => x[k]));
  const row = (n: string): string => `| ${n} | ${Math.round(w(keep[n]!, 'rps'))} | ${w(keep[n]!, 'p50Ms').toFixed(2)} | ${w(keep[n]!, 'p99Ms').toFixed(2)} | ${Math.round(w(churn[n]!, 'rps'))} | ${churnCpu[n]!.length ? `${m(churnCpu[n]!).toFixed(0)} µs` : '—'} | ${w(keep[n]!, 'errors') + w(churn[n]!, 'errors')} |`;
  const md = `### TLS on the listener (\`npm run bench:tls -- --duration ${durationS} --rounds ${rounds} --rate ${rate}\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by wrk (1 thread, 64 connections)
and the target (Rempart: 1 process, dist build, detection in dry run; nginx: 1 worker), in front of an nginx \`return 200\` origin;
certificate ECDSA P-256 (test/fixtures/tls/site-a). Medians of ${rounds} interleaved rounds of ${durationS} s.

| target | keep-alive req/s | p50 ms | p99 ms | a new connection per request: req/s | shield CPU per request (new connection) | socket errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${names.map(row).join('\n')}

- Keep-alive, Rempart over TLS / over plain HTTP: **${(w(keep['rempart-tls']!, 'rps') / w(keep['rempart-http']!, 'rps')).toFixed(2)}**; Rempart over TLS / nginx over TLS: ${(w(keep['rempart-tls']!, 'rps') / w(keep['nginx-tls']!, 'rps')).toFixed(2)}
- A handshake per request, Rempart over TLS / over plain HTTP: ${(w(churn['rempart-tls']!, 'rps') / w(churn['rempart-http']!, 'rps')).toFixed(2)} of the requests a second; CPU per request ${(m(churnCpu['rempart-tls']!) / m(churnCpu['rempart-http']!)).toFixed(1)}×; Rempart / nginx over TLS: ${(w(churn['rempart-tls']!, 'rps') / w(churn['nginx-tls']!, 'rps')).toFixed(2)}
- TLS hellos, ${rate} attempts a second for ${durationS} s from random addresses of a /16, the shield's CPU per attempt above its idle: from the **blocked** 127.80.0.0/16 ${m(perAttempt.blocked).toFixed(0)} µs (${(100 * m(securedShare.blocked)).toFixed(1)}% got a handshake), from an allowed /16 ${m(perAttempt.allowed).toFixed(0)} µs (${(100 * m(securedShare.allowed)).toFixed(1)}% secured): a blocked attempt costs **${(m(perAttempt.blocked) / m(perAttempt.allowed)).toFixed(2)}×** a handshake

One source (127.85.0.1) handshaking and leaving in a loop, 32 at a time, for ${durationS} s, while a customer (127.86.0.1) makes a request on a new TLS connection every 100 ms:

| shield | the loop's handshakes completed /s | shield CPU (cores) | customer's request, median | customer's requests failed |
| --- | ---: | ---: | ---: | ---: |
| default (empty connections limited on TLS: 10/s, burst 100) | ${m(loop.limited.handshakes).toFixed(0)} | ${m(loop.limited.cpu).toFixed(2)} | ${m(loop.limited.customerMs).toFixed(1)} ms | ${(100 * m(loop.limited.customerFailed)).toFixed(1)}% |
| \`emptyConnectionsPerClient: { ratePerS: 0 }\` (off) | ${m(loop.open.handshakes).toFixed(0)} | ${m(loop.open.cpu).toFixed(2)} | ${m(loop.open.customerMs).toFixed(1)} ms | ${(100 * m(loop.open.customerFailed)).toFixed(1)}% |
`;
  process.stdout.write(`\n${md}\n`);
  if (!process.argv.includes('--no-record')) replaceMarkdownSection('docs/benchmarks.md', 'bench:tls', md);
} finally {
  await Promise.all(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
