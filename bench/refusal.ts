/**
 * bench:refusal — how many flood requests a second each target turns away, on loopback, in one run.
 * Under a flood the proxy answers far more requests than it forwards: its cost per refusal, not per
 * forwarded request, decides how long a customer's request waits behind the flood's on the same
 * core (ddos bench at 3,000 req/s: the shield at 90% of a core while the flood's connections
 * opened, a new connection waiting up to 1 s in the kernel's accept queue).
 *
 * The flood: wrk (1 thread, 256 keep-alive connections), every request a different tracking URL
 * from one of 2,000 client addresses (X-Forwarded-For from RFC 2544's benchmarking range
 * 198.18.0.0/15, the proxies trusting the loopback peer), no cookie kept. Targets:
 *   nginx        limit_req keyed on the forwarded address, 1 request a minute: everything past the
 *                first is 503 (the cheapest refusal an nginx operator can configure)
 *   rempart-nav  the shield in forced attack mode (admin API), browser navigations: each answered
 *                with the no-JavaScript redirect (307 + a signed cookie), or whatever the ladder
 *                escalates to for an address that never comes back with it
 *   rempart-api  the same with API requests (Accept: application/json)
 *   node-min     node:http answering 503 with a short body: Node's own floor here
 *   baseline-*   (only with REMPART_BASELINE_DIST=<another checkout's dist>) an earlier build, same run
 * Rounds are interleaved so machine noise hits every target alike; medians are reported, and the
 * shield's own count of answers by outcome (its /metrics) says what the refusals were.
 * With --close every request carries `Connection: close`: the target answers and closes, wrk opens a
 * new connection for the next one — a TCP accept, a parse and a close per refusal, as the drill's
 * connection-churn row and many botnet HTTP tools send (recorded in its own section).
 * With --access-log the shield's access log is on, as by default (written to a discarded stdout: the
 * serialisation and the write, not a disk's or journald's cost): two more shields, one writing every
 * line (`log.accessUnforwardedPerS: 0`) and one with the default budget (200 lines a second for
 * requests answered without the upstream), beside the one without a log (recorded in its own section).
 * Usage: npm run bench:refusal [-- --duration 8 --rounds 3 --close --access-log]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWrk, type WrkResult } from './lib/wrk.js';
import { nginxBinary, writeNginxConf } from './lib/nginx.js';
import { median, numberArg } from './lib/args.js';
import { startProcess, waitForPort, type Started } from './lib/processes.js';
import { freePort } from '../src/core/free-port.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';
import { forceAttack } from './lib/attack-mode.js';

const durationS = numberArg('duration', 8);
const rounds = numberArg('rounds', 3);
const CONNECTIONS = 256;
const SOURCES = 2000;
const TOKEN = 'bench-refusal-admin-token';
const close = process.argv.includes('--close');
const accessLog = process.argv.includes('--access-log');

spawnSync('bash', ['scripts/ensure-system-packages.sh', 'nginx', 'wrk'], { stdio: 'inherit' });
const NGINX = nginxBinary();

const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-refusal-'));
chmodSync(dir, 0o777);

/** A wrk script: a new tracking URL per request, from one of SOURCES forwarded addresses. */
function floodScript(accept: string, navigate: boolean): string {
  const file = join(dir, `flood-${navigate ? 'nav' : 'api'}.lua`);
  writeFileSync(file, `
local n = 0
request = function()
  n = n + 1
  local a = n % ${SOURCES}
  local headers = {
    ["X-Forwarded-For"] = "198.18." .. math.floor(a / 256) .. "." .. (a % 256),
    ["Accept"] = "${accept}",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench-refusal",
    ${navigate ? '["Sec-Fetch-Mode"] = "navigate",' : ''}
    ${close ? '["Connection"] = "close",' : ''}
  }
  return wrk.format("GET", "/track/6A" .. n, headers)
end
`);
  return file;
}

/** nginx refusing by forwarded address: past the first request a minute, 503. */
function nginxConf(port: number, originPort: number): string {
  return writeNginxConf(dir, 'nginx', `  limit_req_zone $http_x_forwarded_for zone=flood:10m rate=1r/m;
  server {
    listen 127.0.0.1:${port};
    location / { limit_req zone=flood; limit_req_status 503; proxy_pass http://127.0.0.1:${originPort}; }
  }`, 'crit');
}

function rempartConf(port: number, admin: number, originPort: number, log = '{ level: warn, access: false }'): string {
  const file = join(dir, `rempart-${port}.yaml`);
  writeFileSync(file, `
listen: { address: 127.0.0.1, port: ${port} }
admin: { address: 127.0.0.1, port: ${admin}, token: ${TOKEN} }
trustedProxies: [127.0.0.1/32]
upstreams: { origin: { url: http://127.0.0.1:${originPort} } }
routes: [ { match: { path: / }, upstream: origin, class: normal } ]
log: ${log}
`);
  return file;
}

/** The shield's answers by outcome so far (rempart_requests_total summed over classes). */
async function outcomes(admin: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^rempart_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    const outcome = /outcome="([^"]+)"/.exec(m[1] ?? '')?.[1] ?? '?';
    out.set(outcome, (out.get(outcome) ?? 0) + Number(m[2]));
  }
  return out;
}

const ports = await Promise.all(Array.from({ length: 11 }, () => freePort()));
const [originPort, nginxPort, rempartPort, adminPort, minPort, basePort, baseAdminPort, everyPort, everyAdmin, budgetPort, budgetAdmin] = ports as [number, number, number, number, number, number, number, number, number, number, number];
const started: Started[] = [];
const stopAll = async (): Promise<void> => { await Promise.all(started.map((s) => s.stop())); };
process.once('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

try {
  // The origin is never reached by a refused request; it is there so every target has one.
  started.push(startProcess('node', ['bench/fixtures/minimal-refuser.mjs', String(originPort)]));
  started.push(startProcess(NGINX, ['-e', join(dir, 'nginx-error.log'), '-c', nginxConf(nginxPort, originPort)]));
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(rempartPort, adminPort, originPort)]));
  started.push(startProcess('node', ['bench/fixtures/minimal-refuser.mjs', String(minPort)]));
  if (accessLog) {
    started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(everyPort, everyAdmin, originPort, '{ level: info, access: true, accessUnforwardedPerS: 0 }')]));
    started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(budgetPort, budgetAdmin, originPort, '{ level: info, access: true }')]));
  }
  const baselineDist = process.env.REMPART_BASELINE_DIST;
  if (baselineDist) started.push(startProcess(process.execPath, [join(baselineDist, 'src/cli/main.js'), 'start', '--config', rempartConf(basePort, baseAdminPort, originPort)]));
  await Promise.all([originPort, nginxPort, rempartPort, minPort, ...(baselineDist ? [basePort] : []), ...(accessLog ? [everyPort, budgetPort] : [])].map((p) => waitForPort(p)));
  await forceAttack(adminPort, TOKEN, 'bench:refusal');
  if (accessLog) { await forceAttack(everyAdmin, TOKEN, 'bench:refusal'); await forceAttack(budgetAdmin, TOKEN, 'bench:refusal'); }
  if (baselineDist) await forceAttack(baseAdminPort, TOKEN, 'bench:refusal');

  const nav = floodScript('text/html,application/xhtml+xml', true);
  const api = floodScript('application/json', false);
  const url = (port: number): string => `http://127.0.0.1:${port}/`;
  const targets: Record<string, { url: string; script: string }> = {
    nginx: { url: url(nginxPort), script: nav },
    'rempart-nav': { url: url(rempartPort), script: nav },
    'rempart-api': { url: url(rempartPort), script: api },
    'node-min': { url: url(minPort), script: nav },
    ...(baselineDist ? { 'baseline-nav': { url: url(basePort), script: nav }, 'baseline-api': { url: url(basePort), script: api } } : {}),
    ...(accessLog ? { 'rempart-nav-log-every-line': { url: url(everyPort), script: nav }, 'rempart-nav-log-budget': { url: url(budgetPort), script: nav } } : {}),
  };
  const names = Object.keys(targets);
  const results = Object.fromEntries(names.map((k) => [k, [] as WrkResult[]]));
  // Warm-up: JIT, connections, and the shield's state for 2,000 addresses.
  for (const name of names) await runWrk(targets[name]!.url, { connections: CONNECTIONS, durationS: 2, script: targets[name]!.script });
  const before = await outcomes(adminPort);
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      results[name]!.push(await runWrk(targets[name]!.url, { connections: CONNECTIONS, durationS, script: targets[name]!.script }));
      process.stderr.write(`round ${r + 1}/${rounds} ${name}: ${Math.round(results[name]!.at(-1)?.rps ?? 0)} req/s\n`);
    }
  }
  const after = await outcomes(adminPort);
  const answered = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const total = answered.reduce((a, [, v]) => a + v, 0);

  const m = (rs: WrkResult[], k: keyof WrkResult): number => median(rs.map((x) => x[k]));
  const rows = names.map((n) => ({ n, rps: m(results[n]!, 'rps'), p50: m(results[n]!, 'p50Ms'), p99: m(results[n]!, 'p99Ms'), errors: results[n]!.reduce((a, x) => a + x.errors, 0) }));
  const by = Object.fromEntries(rows.map((r) => [r.n, r]));
  const f = (x: number, d = 2): string => x.toFixed(d);
  const table = [
    '| target | refusals/s | p50 ms | p99 ms | socket errors |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.n} | ${Math.round(r.rps)} | ${f(r.p50)} | ${f(r.p99)} | ${r.errors} |`),
  ].join('\n');
  const ratios = [
    `- Rempart (navigations) / nginx limit_req: **${f(by['rempart-nav']!.rps / by.nginx!.rps)}**; API requests / nginx: ${f(by['rempart-api']!.rps / by.nginx!.rps)}`,
    `- Rempart (navigations) / Node's floor: ${f(by['rempart-nav']!.rps / by['node-min']!.rps)}; API requests / Node's floor: ${f(by['rempart-api']!.rps / by['node-min']!.rps)}`,
    ...(baselineDist ? [`- This build / baseline (${baselineDist}): navigations ${f(by['rempart-nav']!.rps / by['baseline-nav']!.rps)}, API requests ${f(by['rempart-api']!.rps / by['baseline-api']!.rps)}`] : []),
    ...(accessLog ? [`- Navigations with the access log on / without: every line **${f(by['rempart-nav-log-every-line']!.rps / by['rempart-nav']!.rps)}**, the default budget (200 lines a second for requests answered without the upstream) **${f(by['rempart-nav-log-budget']!.rps / by['rempart-nav']!.rps)}**`] : []),
    `- What the shield answered over the measured rounds (its metrics, both request kinds): ${answered.map(([k, v]) => `${k} ${(100 * v / total).toFixed(1)}%`).join(', ')}`,
  ].join('\n');
  const md = `### Refusals under a flood${close ? ', a new connection per request' : ''}${accessLog ? ', the access log on' : ''} (\`npm run bench:refusal -- --duration ${durationS} --rounds ${rounds}${close ? ' --close' : ''}${accessLog ? ' --access-log' : ''}\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by
wrk (1 thread, ${CONNECTIONS} ${close ? 'connections each closed after one request (Connection: close) and opened again' : 'keep-alive connections'}, every request a new URL from one of ${SOURCES} forwarded addresses, no cookie kept)
and the target (nginx 1 worker, or Rempart 1 process in forced attack mode). Medians of ${rounds} interleaved rounds of ${durationS} s.

${table}

${ratios}
`;
  process.stdout.write(`\n${md}\n`);
  if (!process.argv.includes('--no-record')) replaceMarkdownSection('docs/benchmarks.md', accessLog ? 'bench:refusal-log' : close ? 'bench:refusal-close' : 'bench:refusal', md);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
