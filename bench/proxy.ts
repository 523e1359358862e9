/**
 * bench:proxy — requests/s and p50/p99 latency on loopback, in one run, for:
 *   direct   the origin itself (an nginx `return 200`, so the origin is never the bottleneck)
 *   nginx    nginx 1 worker proxying to it (keep-alive upstream, as operators configure it)
 *   rempart  the shield, 1 process, every filter on (validate, classify, blocklist, GCRA, detection in dry run)
 *   rempart+log  the same with the JSON access log on (to /dev/null), to show what logging costs
 *   rempart-nodetect  the shield without detection (no fingerprint, standing, sketch): what detection costs
 *   baseline  (only with REMPART_BASELINE_DIST=<another checkout's dist>) an earlier build, same run, same config
 *             minus the keys it does not know: to compare two versions under the same machine noise
 *   node-min the least a Node proxy can do (bench/fixtures/minimal-proxy.mjs): Node's own ceiling here
 * Each target is measured under load (wrk -c 50) and unloaded (wrk -c 1, the added latency of one
 * request). Rounds are interleaved so machine noise hits every target alike; medians are reported.
 * Usage: npm run bench:proxy [-- --duration 10 --rounds 3]
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

const durationS = numberArg('duration', 8);
const rounds = numberArg('rounds', 3);
const latencyDurationS = Math.max(3, Math.round(durationS / 2));

spawnSync('bash', ['scripts/ensure-system-packages.sh', 'nginx', 'wrk'], { stdio: 'inherit' });
const NGINX = nginxBinary();

const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-proxy-'));
chmodSync(dir, 0o777);

const nginxConf = (name: string, server: string): string => writeNginxConf(dir, name, server);

const [originPort, nginxPort, rempartPort, adminPort, logPort, logAdminPort, minPort, plainPort, plainAdminPort, basePort, baseAdminPort] = await Promise.all(Array.from({ length: 11 }, () => freePort()));
const started: Started[] = [];
const stopAll = async (): Promise<void> => { await Promise.all(started.map((s) => s.stop())); };
process.once('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

try {
  const body = '{"id":"6A12345678901","status":"in transit"}';
  started.push(startProcess(NGINX, ['-e', join(dir, 'origin-error.log'), '-c', nginxConf('origin', `
  server { listen 127.0.0.1:${originPort}; location / { default_type application/json; return 200 '${body}'; } }`)]));
  started.push(startProcess(NGINX, ['-e', join(dir, 'proxy-error.log'), '-c', nginxConf('proxy', `
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`)]));
  const rempartConf = (port: number, admin: number, access: boolean, detection = true): string => {
    const file = join(dir, `rempart-${port}.yaml`);
    writeFileSync(file, `
listen: { address: 127.0.0.1, port: ${port} }
admin: { address: 127.0.0.1, port: ${admin} }
upstreams: { origin: { url: http://127.0.0.1:${originPort}, connections: 64 } }
routes: [ { match: { path: / }, upstream: origin, class: normal } ]
rateLimits: { perClient: { normal: { ratePerS: 1000000000, burst: 1000000000 } } }
# wrk is one client flooding: detection would challenge it. Dry run computes every decision
# (fingerprint, standing, reputation cookies, attack state) and enforces none.
detection: { enabled: ${detection}, dryRun: true }
log: { level: ${access ? 'info' : 'warn'}, access: ${access} }
`);
    return file;
  };
  // Rempart runs compiled (as `rempart start` does after `npm run build`), not through the tsx loader.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(rempartPort as number, adminPort as number, false)]));
  started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(logPort as number, logAdminPort as number, true)]));
  started.push(startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', rempartConf(plainPort as number, plainAdminPort as number, false, false)]));
  const baselineDist = process.env.REMPART_BASELINE_DIST;
  if (baselineDist) {
    // The same configuration as `rempart` (detection in dry run): a baseline without it had its
    // flooding client challenged, and measured refusals (every answer non-2xx).
    const file = rempartConf(basePort as number, baseAdminPort as number, false);
    started.push(startProcess(process.execPath, [join(baselineDist, 'src/cli/main.js'), 'start', '--config', file]));
  }
  started.push(startProcess(process.execPath, ['bench/fixtures/minimal-proxy.mjs', String(minPort), `http://127.0.0.1:${originPort}`]));
  await Promise.all([originPort, nginxPort, rempartPort, logPort, minPort, plainPort, ...(baselineDist ? [basePort] : [])].map((p) => waitForPort(p as number)));

  const targets = {
    direct: `http://127.0.0.1:${originPort}/track/6A12345678901`,
    nginx: `http://127.0.0.1:${nginxPort}/track/6A12345678901`,
    rempart: `http://127.0.0.1:${rempartPort}/track/6A12345678901`,
    'rempart+log': `http://127.0.0.1:${logPort}/track/6A12345678901`,
    'rempart-nodetect': `http://127.0.0.1:${plainPort}/track/6A12345678901`,
    'node-min': `http://127.0.0.1:${minPort}/track/6A12345678901`,
    ...(baselineDist ? { baseline: `http://127.0.0.1:${basePort}/track/6A12345678901` } : {}),
  } as Record<string, string>;
  type Name = 'direct' | 'nginx' | 'rempart' | 'rempart+log' | 'rempart-nodetect' | 'node-min' | 'baseline';
  const loaded = Object.fromEntries(Object.keys(targets).map((k) => [k, [] as WrkResult[]])) as Record<Name, WrkResult[]>;
  const single = Object.fromEntries(Object.keys(targets).map((k) => [k, [] as WrkResult[]])) as Record<Name, WrkResult[]>;
  // Warm-up: JIT, pools and keep-alive connections.
  for (const name of Object.keys(targets) as Name[]) await runWrk(targets[name] as string, { connections: 50, durationS: 2 });
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(targets) as Name[]) {
      loaded[name].push(await runWrk(targets[name] as string, { connections: 50, durationS }));
      single[name].push(await runWrk(targets[name] as string, { connections: 1, durationS: latencyDurationS }));
      process.stderr.write(`round ${r + 1}/${rounds} ${name}: ${Math.round(loaded[name].at(-1)?.rps ?? 0)} req/s\n`);
    }
  }
  const m = (rs: WrkResult[], k: keyof WrkResult): number => median(rs.map((x) => x[k]));
  const f = (x: number, d = 2): string => x.toFixed(d);
  const rows = (Object.keys(targets) as Name[]).map((n) => ({
    n, rps: m(loaded[n], 'rps'), p50: m(loaded[n], 'p50Ms'), p99: m(loaded[n], 'p99Ms'),
    p50c1: m(single[n], 'p50Ms'), p99c1: m(single[n], 'p99Ms'), bad: loaded[n].reduce((a, x) => a + x.errors + x.non2xx, 0),
  }));
  const by = Object.fromEntries(rows.map((r) => [r.n, r])) as Record<Name, (typeof rows)[number]>;
  const table = [
    '| target | req/s (c=50) | p50 ms | p99 ms | p50 ms (c=1) | p99 ms (c=1) | errors + non-2xx |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.n} | ${Math.round(r.rps)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.p50c1, 3)} | ${f(r.p99c1, 3)} | ${r.bad} |`),
  ].join('\n');
  const ratios = [
    `- Rempart throughput / nginx throughput: **${f(by.rempart.rps / by.nginx.rps)}** (aim ≥ 0.5)`,
    `- Rempart throughput / direct: ${f(by.rempart.rps / by.direct.rps)}; nginx / direct: ${f(by.nginx.rps / by.direct.rps)}`,
    `- Added p50 latency of one request (c=1): Rempart **${f(by.rempart.p50c1 - by.direct.p50c1, 3)} ms**, nginx ${f(by.nginx.p50c1 - by.direct.p50c1, 3)} ms (aim < 0.5 ms)`,
    `- Access log on / off (Rempart throughput): ${f(by['rempart+log'].rps / by.rempart.rps)}`,
    `- Detection on (dry run) / off (Rempart throughput): ${f(by.rempart.rps / by['rempart-nodetect'].rps)}; Rempart without detection / the minimal Node proxy: ${f(by['rempart-nodetect'].rps / by['node-min'].rps)}`,
    `- Rempart / the minimal Node proxy (Node's own HTTP stack, nothing checked): ${f(by.rempart.rps / by['node-min'].rps)}; minimal Node proxy / nginx: ${f(by['node-min'].rps / by.nginx.rps)}`,
    ...(baselineDist ? [`- Baseline build (${baselineDist}) / the minimal Node proxy: ${f(by.baseline.rps / by['node-min'].rps)}; Rempart / baseline (same configuration, same run): ${f(by.rempart.rps / by.baseline.rps)}`] : []),
  ].join('\n');
  const md = `### Proxy overhead (\`npm run bench:proxy -- --duration ${durationS} --rounds ${rounds}\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by
wrk (1 thread), the origin (nginx, 1 worker, \`return 200\`), and the proxy under test (nginx 1 worker, or Rempart 1 process).
Medians of ${rounds} interleaved rounds of ${durationS} s (c=50) and ${latencyDurationS} s (c=1).

${table}

${ratios}
`;
  process.stdout.write(`\n${md}\n`);
  if (!process.argv.includes('--no-record')) replaceMarkdownSection('docs/benchmarks.md', 'bench:proxy', md);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
