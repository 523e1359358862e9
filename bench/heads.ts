/**
 * bench:heads — what the shield's CPU pays per flood request when the attacker makes every request
 * head as costly to read as the listener lets it be: the flood the drill's scenarios do not send
 * (their heads are a browser's, ~0.5 KiB). A request filter that walks every query key, cookie or
 * header line, or hashes a whole agent, pays per byte; one that did so more than once, or
 * quadratically, would let one bot's request cost the shield what a hundred customers' do (the
 * hash-flooding class: CVE-2011-4885 in PHP's query parsing, `req.query` limits in Express).
 *
 * Every shape stays within the shield's default listener limits (`listen.limits`: 16 KiB of head,
 * 100 header lines), so it is answered, not refused by the parser: the bench checks that no answer
 * is a 4xx/5xx. The shield runs in forced attack mode (admin API), as under a flood: each request
 * is read, fingerprinted, counted in the detection sketches and answered with the no-JavaScript
 * redirect (307 and a signed cookie). wrk (1 thread, 64 keep-alive connections) sends every
 * request with a new target from one of 2,000 forwarded addresses. Measured per shape: refusals a
 * second, and the shield's CPU per refusal (utime + stime of its process from /proc over the round,
 * divided by the requests wrk completed) — the figure that matters, as wrk shares the cores and
 * builds the large heads itself. Rounds are interleaved; medians; ratios against `plain` (a
 * browser's head) measured in the same rounds.
 *
 * With REMPART_BASELINE_DIST=<another checkout's dist>, an earlier build runs beside it, same
 * config, same rounds: each shape's CPU per refusal is also given as a ratio to that build's.
 *
 * Usage: npm run bench:heads [-- --duration 6 --rounds 3 --no-record]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWrk, type WrkResult } from './lib/wrk.js';
import { median, numberArg } from './lib/args.js';
import { startProcess, waitForPort, type Started } from './lib/processes.js';
import { freePort } from '../src/core/free-port.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';
import { forceAttack } from './lib/attack-mode.js';

const durationS = numberArg('duration', 6);
const rounds = numberArg('rounds', 3);
const CONNECTIONS = 64;
const SOURCES = 2000;
const TOKEN = 'bench-heads-admin-token';
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * The shapes: a Lua body that sets `h` (headers) and returns the request. `n` is the request's
 * number (a new target each time). Sizes are what each adds to a browser's ~0.5 KiB head.
 */
const SHAPES: ReadonlyArray<{ name: string; what: string; lua: string }> = [
  { name: 'plain', what: 'a browser\'s navigation (~0.5 KiB)', lua: 'return wrk.format("GET", "/track/6A" .. n, h)' },
  { name: 'query-keys', what: '700 distinct query keys (~6 KiB of query)', lua: 'local q = {} for i = 1, 700 do q[#q+1] = "k" .. i .. "=" .. i end return wrk.format("GET", "/search?" .. table.concat(q, "&") .. "&n=" .. n, h)' },
  { name: 'query-repeat', what: 'one key 1,400 times (~10 KiB)', lua: 'local q = {} for i = 1, 1400 do q[#q+1] = "a=" .. i end return wrk.format("GET", "/search?" .. table.concat(q, "&") .. "&n=" .. n, h)' },
  { name: 'path-depth', what: '1,500 path segments (~4.5 KiB)', lua: 'local q = {} for i = 1, 1500 do q[#q+1] = "s" .. (i % 10) end return wrk.format("GET", "/" .. table.concat(q, "/") .. "/" .. n, h)' },
  { name: 'cookies', what: '600 cookies named like the shield\'s own (~10 KiB)', lua: 'local c = {} for i = 1, 600 do c[#c+1] = "rempart_re" .. i .. "=x" end h["Cookie"] = table.concat(c, "; ") return wrk.format("GET", "/track/6A" .. n, h)' },
  { name: 'forged-tokens', what: 'a reputation, clearance and no-JS cookie each forged (bad signature)', lua: 'h["Cookie"] = "rempart_rep=" .. string.rep("A", 200) .. n .. "; rempart_clr=" .. string.rep("B", 200) .. n .. "; rempart_nojs=" .. string.rep("C", 120) .. n return wrk.format("GET", "/track/6A" .. n, h)' },
  { name: 'header-lines', what: '90 more header lines of 120 bytes (~11 KiB, 94 lines)', lua: 'for i = 1, 90 do h["X-H" .. i] = string.rep("v", 120) end return wrk.format("GET", "/track/6A" .. n, h)' },
  { name: 'long-accept', what: 'a 14 KiB Accept of 800 media ranges', lua: 'h["Accept"] = string.rep("text/html;q=0.9, ", 800) return wrk.format("GET", "/track/6A" .. n, h)' },
  { name: 'long-agent', what: 'a 14 KiB User-Agent, new each request', lua: 'h["User-Agent"] = "Mozilla/5.0 " .. string.rep("(X11; Linux x86_64) ", 700) .. n return wrk.format("GET", "/track/6A" .. n, h)' },
];

spawnSync('bash', ['scripts/ensure-system-packages.sh', 'wrk'], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-heads-'));
chmodSync(dir, 0o777);

function script(shape: { name: string; lua: string }): string {
  const file = join(dir, `${shape.name}.lua`);
  writeFileSync(file, `local n = 0
request = function()
  n = n + 1
  local a = n % ${SOURCES}
  local h = {
    ["X-Forwarded-For"] = "198.18." .. math.floor(a / 256) .. "." .. (a % 256),
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Sec-Fetch-Mode"] = "navigate",
  }
  ${shape.lua}
end
`);
  return file;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

const [originPort, port, admin, basePort, baseAdmin] = await Promise.all(Array.from({ length: 5 }, () => freePort())) as [number, number, number, number, number];
const baselineDist = process.env.REMPART_BASELINE_DIST;
const started: Started[] = [];
const stopAll = async (): Promise<void> => { await Promise.all(started.map((s) => s.stop())); };
process.once('SIGINT', () => { void stopAll().then(() => process.exit(130)); });

try {
  // The origin is never reached by a refused request; it is there so the shield has one.
  started.push(startProcess('node', ['bench/fixtures/minimal-refuser.mjs', String(originPort)]));
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  /** A shield in forced attack mode from `distDir`; its PID. */
  const startShield = async (distDir: string, p: number, a: number): Promise<number> => {
    const conf = join(dir, `rempart-${p}.yaml`);
    writeFileSync(conf, `
listen: { address: 127.0.0.1, port: ${p} }
admin: { address: 127.0.0.1, port: ${a}, token: ${TOKEN} }
trustedProxies: [127.0.0.1/32]
upstreams: { origin: { url: http://127.0.0.1:${originPort} } }
routes: [ { match: { path: / }, upstream: origin, class: normal } ]
log: { level: warn, access: false }
`);
    const shield = startProcess(process.execPath, [join(distDir, 'src/cli/main.js'), 'start', '--config', conf]);
    started.push(shield);
    await waitForPort(p);
    await forceAttack(a, TOKEN, 'bench:heads');
    if (shield.child.pid === undefined) throw new Error('a shield has no PID');
    return shield.child.pid;
  };
  await waitForPort(originPort);
  const targets = [{ name: 'rempart', url: `http://127.0.0.1:${port}/`, pid: await startShield('dist', port, admin) }];
  if (baselineDist) targets.push({ name: 'baseline', url: `http://127.0.0.1:${basePort}/`, pid: await startShield(baselineDist, basePort, baseAdmin) });

  const scripts = new Map(SHAPES.map((s) => [s.name, script(s)]));
  // Warm-up: JIT, connections, and the shield's state for 2,000 addresses, every shape once.
  for (const t of targets) for (const s of SHAPES) await runWrk(t.url, { connections: CONNECTIONS, durationS: 1, script: scripts.get(s.name)! });
  const runs = new Map<string, Array<WrkResult & { cpuUs: number }>>();
  for (let r = 0; r < rounds; r++) {
    for (const s of SHAPES) {
      for (const t of targets) {
        const before = cpuSeconds(t.pid);
        const w = await runWrk(t.url, { connections: CONNECTIONS, durationS, script: scripts.get(s.name)! });
        const cpuUs = w.requests > 0 ? (cpuSeconds(t.pid) - before) * 1e6 / w.requests : NaN;
        const key = `${t.name} ${s.name}`;
        runs.set(key, [...(runs.get(key) ?? []), { ...w, cpuUs }]);
        process.stderr.write(`round ${r + 1}/${rounds} ${key}: ${Math.round(w.rps)} req/s, ${cpuUs.toFixed(1)} µs CPU each\n`);
      }
    }
  }
  const row = (target: string, s: (typeof SHAPES)[number]): { s: (typeof SHAPES)[number]; rps: number; cpuUs: number; bad: number } => {
    const rs = runs.get(`${target} ${s.name}`)!;
    return { s, rps: median(rs.map((x) => x.rps)), cpuUs: median(rs.map((x) => x.cpuUs)), bad: rs.reduce((a, x) => a + x.non2xx + x.errors, 0) };
  };
  const rows = SHAPES.map((s) => row('rempart', s));
  const base = baselineDist ? SHAPES.map((s) => row('baseline', s)) : undefined;
  const plain = rows[0]!.cpuUs;
  const worst = rows.reduce((a, x) => (x.cpuUs > a.cpuUs ? x : a));
  const table = [
    `| shape | what the head carries | refusals/s | shield CPU per refusal | × plain | 4xx/5xx + socket errors |${base ? ' baseline CPU per refusal | this build / baseline |' : ''}`,
    `| --- | --- | ---: | ---: | ---: | ---: |${base ? ' ---: | ---: |' : ''}`,
    ...rows.map((x, i) => `| ${x.s.name} | ${x.s.what} | ${Math.round(x.rps)} | ${x.cpuUs.toFixed(1)} µs | ${(x.cpuUs / plain).toFixed(2)} | ${x.bad} |` +
      (base ? ` ${base[i]!.cpuUs.toFixed(1)} µs | ${(x.cpuUs / base[i]!.cpuUs).toFixed(2)} |` : '')),
  ].join('\n');
  const md = `### Costly request heads (\`npm run bench:heads -- --duration ${durationS} --rounds ${rounds}\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by
wrk (1 thread, ${CONNECTIONS} keep-alive connections, every request a new target from one of ${SOURCES} forwarded addresses) and
the shield (1 process, forced attack mode: every request answered with the no-JavaScript redirect).
Every shape within the default listener limits (16 KiB of head, 100 lines). Medians of ${rounds} interleaved rounds of ${durationS} s.

${table}

- Costliest shape: **${worst.s.name}**, ${(worst.cpuUs / plain).toFixed(2)}× a browser's head per refusal.
${base ? `- Baseline: ${baselineDist}, in the same rounds; its costliest shape ${base.reduce((a, x) => (x.cpuUs > a.cpuUs ? x : a)).s.name}, ${(Math.max(...base.map((x) => x.cpuUs)) / base[0]!.cpuUs).toFixed(2)}× its plain head.\n` : ''}`;
  process.stdout.write(`\n${md}\n`);
  if ([...rows, ...(base ?? [])].some((x) => x.bad > 0)) process.stderr.write('warning: some answers were 4xx/5xx or socket errors: a shape was refused by the parser, not measured\n');
  if (!process.argv.includes('--no-record')) replaceMarkdownSection('docs/benchmarks.md', 'bench:heads', md);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
