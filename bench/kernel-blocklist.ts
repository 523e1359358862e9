/**
 * bench:kernel-blocklist — what a blocked source's connection attempts cost the shield, with its
 * blocklist in userspace only (accept, gate lookup, reset) and mirrored in nftables
 * (`kernelBlocklist`: the kernel drops the SYN), in one run.
 *
 * Two shields (dist build, one process each) in front of a minimal origin, each with
 * 127.80.0.0/16 blocked by its configuration; one of them mirrors it in a table of its own. A
 * client opens `rate` connections a second for `duration` seconds from random addresses in that
 * /16 (each given up after 300 ms: a dropped SYN never answers), interleaved round by round
 * between the two. Reported: the shield's CPU time over each round (/proc/PID/stat, user +
 * system) per 10,000 attempts above what it uses idle over as long, and a customer's request time (from 127.81.0.1) during the flood.
 * Needs root and nftables (installed when missing); only loopback addresses and the shields' own
 * ports are touched, and the table is deleted at stop.
 * Usage: npm run bench:kernel-blocklist [-- --duration 5 --rate 2000 --rounds 3 --no-record]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, numberArg } from './lib/args.js';
import { pacedAttempts, processCpuSeconds, randomAddressIn } from './lib/attempts.js';
import { startProcess, waitForPort, type Started } from './lib/processes.js';
import { freePort } from '../src/core/free-port.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';

const durationS = numberArg('duration', 5);
const rate = numberArg('rate', 2000);
const rounds = numberArg('rounds', 3);
const TABLE = `rempart_bench${process.pid}`;

spawnSync('bash', ['scripts/ensure-system-packages.sh', 'nftables'], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-kernel-'));

function conf(port: number, admin: number, originPort: number, kernel: boolean): string {
  const file = join(dir, `rempart-${port}.yaml`);
  writeFileSync(file, `
listen: { address: 127.0.0.1, port: ${port} }
admin: { address: 127.0.0.1, port: ${admin}, token: bench-kernel-blocklist-token }
upstreams: { origin: { url: http://127.0.0.1:${originPort} } }
routes: [ { match: { path: / }, upstream: origin } ]
blocklist: [ { cidr: 127.80.0.0/16, reason: bench } ]
${kernel ? `kernelBlocklist: { enabled: true, table: ${TABLE} }` : ''}
log: { level: warn, access: false }
`);
  return file;
}

/** `rate` attempts a second for `durationS` from 127.80.x.y; each is destroyed once connected or after 300 ms. */
async function flood(port: number): Promise<{ attempts: number; connected: number }> {
  const r = await pacedAttempts(rate, durationS, () => new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: randomAddressIn(80) });
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, 300);
    s.on('error', () => { clearTimeout(timer); s.destroy(); resolve(false); });
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve(true); });
  }));
  return { attempts: r.attempts, connected: r.succeeded };
}

/** One customer request's time (ms) through the shield from 127.81.0.1. */
function customer(port: number): Promise<number> {
  const t = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: '127.81.0.1' });
    s.on('error', () => resolve(Number.NaN));
    s.once('connect', () => s.end('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'));
    s.on('data', () => {});
    s.once('close', () => resolve(performance.now() - t));
  });
}

const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
const [originPort, userPort, userAdmin, kernelPort, kernelAdmin] = ports as [number, number, number, number, number];
const started: Started[] = [];
try {
  started.push(startProcess('node', ['bench/fixtures/minimal-refuser.mjs', String(originPort)]));
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  const userspace = startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', conf(userPort, userAdmin, originPort, false)]);
  const kernel = startProcess(process.execPath, ['dist/src/cli/main.js', 'start', '--config', conf(kernelPort, kernelAdmin, originPort, true)]);
  started.push(userspace, kernel);
  await Promise.all([originPort, userPort, kernelPort].map((p) => waitForPort(p)));
  const state = await (await fetch(`http://127.0.0.1:${kernelAdmin}/api/state`, { headers: { authorization: 'Bearer bench-kernel-blocklist-token' } })).json() as { blocklist: { kernel?: { active: boolean; lastError?: string } } };
  if (state.blocklist.kernel?.active !== true) throw new Error(`the kernel mirror is not active: ${state.blocklist.kernel?.lastError ?? 'no state'} (root and nftables are needed)`);

  const targets = { userspace: { port: userPort, pid: userspace.child.pid! }, kernel: { port: kernelPort, pid: kernel.child.pid! } };
  const results: Record<string, { cpuPer10k: number[]; attempts: number[]; connected: number[]; customerMs: number[] }> = {
    userspace: { cpuPer10k: [], attempts: [], connected: [], customerMs: [] }, kernel: { cpuPer10k: [], attempts: [], connected: [], customerMs: [] },
  };
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of Object.entries(targets)) {
      const before = processCpuSeconds(t.pid);
      const customers: number[] = [];
      const probe = setInterval(() => { void customer(t.port).then((ms) => customers.push(ms)); }, 200);
      const f = await flood(t.port);
      clearInterval(probe);
      const used = processCpuSeconds(t.pid) - before;
      const res = results[name]!;
      res.cpuPer10k.push(used);
      res.attempts.push(f.attempts);
      res.connected.push(f.connected / f.attempts);
      res.customerMs.push(median(customers.filter((x) => Number.isFinite(x))));
      process.stderr.write(`round ${r + 1}/${rounds} ${name}: ${f.attempts} attempts, ${(100 * f.connected / f.attempts).toFixed(1)}% accepted, shield CPU ${used.toFixed(2)} s\n`);
    }
  }
  // What each shield uses with no flood over as long, warm (its timers, the customer's requests): subtracted.
  const idle: Record<string, number> = {};
  for (const [name, t] of Object.entries(targets)) {
    const before = processCpuSeconds(t.pid);
    const probe = setInterval(() => { void customer(t.port); }, 200);
    await new Promise((r) => setTimeout(r, durationS * 1000));
    clearInterval(probe);
    idle[name] = processCpuSeconds(t.pid) - before;
  }
  for (const [name, res] of Object.entries(results)) {
    res.cpuPer10k = res.cpuPer10k.map((used, i) => (Math.max(0, used - idle[name]!) / res.attempts[i]!) * 10_000);
  }
  const m = (xs: number[]): number => median(xs);
  const u = results.userspace!;
  const k = results.kernel!;
  const md = `### Blocked sources, the blocklist in userspace or in nftables (\`npm run bench:kernel-blocklist -- --duration ${durationS} --rate ${rate} --rounds ${rounds}\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by the client and two shields
(dist build, one process each, 127.80.0.0/16 blocked by their configuration; one mirrors it with \`kernelBlocklist\`).
The client opens ${rate} connections a second for ${durationS} s from random addresses in the blocked /16 (each given up after 300 ms),
and a customer's request every 200 ms from 127.81.0.1; medians of ${rounds} interleaved rounds.

| blocklist | shield CPU per 10,000 blocked attempts (above its idle ${durationS} s: ${idle.userspace!.toFixed(2)} / ${idle.kernel!.toFixed(2)} s) | attempts accepted (then reset) | a customer's request, median |
| --- | ---: | ---: | ---: |
| userspace only | ${m(u.cpuPer10k).toFixed(2)} s | ${(100 * m(u.connected)).toFixed(1)}% | ${m(u.customerMs).toFixed(1)} ms |
| mirrored in nftables | ${m(k.cpuPer10k).toFixed(2)} s | ${(100 * m(k.connected)).toFixed(1)}% | ${m(k.customerMs).toFixed(1)} ms |

- nftables / userspace, shield CPU per attempt: **${(m(k.cpuPer10k) / m(u.cpuPer10k)).toFixed(2)}**
`;
  process.stdout.write(`\n${md}\n`);
  if (!process.argv.includes('--no-record')) replaceMarkdownSection('docs/benchmarks.md', 'bench:kernel-blocklist', md);
} finally {
  await Promise.all(started.map((s) => s.stop()));
  spawnSync('nft', ['delete', 'table', 'inet', TABLE], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
