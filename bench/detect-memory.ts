/**
 * Detection memory: feeds 1,000,000 distinct sources (IPv4 127.x.y.z and IPv6 2001:db8::/32
 * strings generated in-process, one request each, plus a few heavy hitters) through the traffic
 * sketch inside one 10 s window, then reports retained memory (heap + array buffers, after a full
 * GC) against the 128 MiB budget and the cost per observe against the cost of building the
 * observation alone, same run. Re-executes itself with --expose-gc when needed. Writes its section
 * of docs/benchmarks.md (between the bench:detect markers); exits 1 over budget.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '../src/core/clock.js';
import { replaceMarkdownSection } from '../src/core/markdown-section.js';
import { openShieldDatabase } from '../src/console/database.js';
import { addressPrefixes, CHUNK_ROWS, createReputationRoster, createRosterStore, createSpaceSaving, createTrafficSketch, DEFAULT_ROSTER, type Observation } from '../src/shield/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Retained memory means nothing without a full collection first.
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const collect = gc as () => void;

const SOURCES = 1_000_000;
const BUDGET = 128 * 1024 * 1024;
const PER_SECOND = SOURCES / 10; // all sources inside one 10 s window
const HEAVY = ['198.51.100.7', '198.51.100.8', '2001:db8:ffff::1'];

function source(i: number): string {
  // 80% IPv4 in 127.0.0.0/8 (16.7 M addresses), 20% IPv6 in 2001:db8::/32: all distinct.
  if (i % 5 !== 4) return `127.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  return `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::${(i % 7) + 1}`;
}

const FP = ['3f9a2b1c0d4e', '7a11b2c3d4e5', '0badc0ffee00', 'deadbeef0001'];
const PATHS = ['/', '/track/{id}', '/search', '/bank/login', '/account'];

function observation(i: number): Observation {
  const client = i % 50 === 0 ? (HEAVY[i % HEAVY.length] as string) : source(i);
  const { prefix, prefix48 } = addressPrefixes(client);
  return {
    client, prefix, prefix48, fingerprint: FP[i & 3] as string, pathTemplate: PATHS[i % 5] as string,
    userAgent: `Mozilla/5.0 (X11; Linux x86_64) rv:${i % 97}`, queryShape: i % 3 === 0 ? 'q' : '',
    cookie: i % 3 === 0 ? 'none' : 'valid', routeClass: 'normal',
  };
}

function retained(): number {
  collect();
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const clock = createManualClock(0);
let sink = 0;

/** Wall and CPU nanoseconds per item of `run` (CPU time counts only this process: fairer on a shared machine). */
function timed(items: number, run: () => void): { wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  run();
  const cpu = process.cpuUsage(cpu0);
  return { wall: Number(process.hrtime.bigint() - t0) / items, cpu: ((cpu.user + cpu.system) * 1000) / items };
}

// Baseline pass: the cost of building observations (strings, prefixes) without the sketch.
const build = timed(SOURCES, () => { for (let i = 0; i < SOURCES; i++) sink += observation(i).client.length; });

const before = retained();
const sketch = createTrafficSketch({ clock });
const strikes = createSpaceSaving(4096); // the escalation's strike counter, also resident
const empty = retained() - before;
const fed = timed(SOURCES, () => {
  for (let i = 0; i < SOURCES; i++) {
    if (i > 0 && i % PER_SECOND === 0) clock.advance(1000);
    const obs = observation(i);
    sketch.observe(obs);
    if (i % 10 === 0) strikes.add(obs.client);
  }
});
clock.advance(999);
let snap = sketch.snapshot(32);
const snapshotCost = timed(1e6, () => { snap = sketch.snapshot(32); }); // ns per 1e6 → ms
const used = retained() - before;
sink += snap.total;

// Spot checks: the window holds every request; heavy hitters lead; a one-request source is ≥ 1.
const heavyFound = HEAVY.every((h) => snap.dimensions.client.slice(0, 3).some((e) => e.value === h));
const single = source(123_457);
const singleCount = sketch.clientCount(single);
const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);

// The reputation roster (reputation/roster.ts) at its bound: 200,000 reputations presented over the
// hour before an attack (12-character ids, as issued), then judged as they would be during it.
const ROSTER = DEFAULT_ROSTER.maxIds;
const HOUR = 3_600_000;
const repId = (i: number): string => `r${(Math.imul(i, 2654435761) >>> 0).toString(36).padStart(11, '0')}`;
const rosterBefore = retained();
const roster = createReputationRoster();
// Times as the shield's monotonic clock gives them (performance.now(): fractional, so boxed doubles).
const presented = timed(ROSTER, () => { for (let i = 0; i < ROSTER; i++) roster.see(repId(i), (i * HOUR) / ROSTER + 0.25, true); });
const rosterUsed = retained() - rosterBefore;
// Sightings of reputations already remembered (the common case: a customer's every request).
const again = timed(ROSTER, () => { for (let i = 0; i < ROSTER; i++) sink += roster.see(repId(i), HOUR + i / 100 + 0.25, true); });
const idOnly = timed(ROSTER, () => { for (let i = 0; i < ROSTER; i++) sink += repId(i).length; });
// A judgement during the attack: its usual rate worked out once per attack (360 bins of 10 s), then reused.
const attackFrom = HOUR + 5000;
const firstJudge = timed(1, () => { sink += roster.woken(attackFrom + 100, attackFrom, attackFrom + 2000) ? 1 : 0; });
const judged = timed(1e5, () => { for (let i = 0; i < 1e5; i++) sink += roster.woken(attackFrom + (i % 2000), attackFrom, attackFrom + 3000) ? 1 : 0; });
// Customers first seen across the hour before it, each judged by the surge rule (what a returning
// customer's every request costs during an attack): one baseline per 10 s bin, worked out once.
const customers = timed(1e5, () => { for (let i = 0; i < 1e5; i++) sink += roster.woken(((i * 7919) % ROSTER) * (HOUR / ROSTER) + 0.25, attackFrom, attackFrom + 3000) ? 1 : 0; });
const rosterOk = roster.size === ROSTER;

// The roster kept in the shield's SQLite file (reputation/roster-store.ts; storage.database), on a
// real file in the temporary directory: everything written at stop, one chunk of the periodic
// writes, and the restore at the next start — each one a stall of the event loop.
const T0 = 1_700_000_000_000;
let tick = 0;
const ticker = { now: () => tick };
const wall = { now: () => T0 + tick };
const silent = { info() {}, warn() {} } as unknown as Parameters<typeof createRosterStore>[0]['log'];
const dbDir = mkdtempSync(join(tmpdir(), 'rempart-bench-roster-'));
const db = openShieldDatabase(join(dbDir, 'shield.db'));
const store = createRosterStore({ db, roster, clock: wall, ticker, log: silent, everyMs: 3_600_000 });
store.start(); // at 0: every reputation above was presented since
tick = HOUR + 10_000;
const atStop = timed(1, () => { sink += store.flush(true); }); // as at stop: all of it, at once
// Ten rounds of one chunk's new first sightings, each written on its own (the first may pay for a
// checkpoint of the write at stop above): the median and the worst.
const chunks: number[] = [];
for (let round = 0; round < 10; round++) {
  for (let i = 0; i < CHUNK_ROWS; i++) roster.see(`new${round}.${i}`, tick + 1 + i / 1000, false);
  tick += 10_000;
  chunks.push(timed(1, () => { sink += store.flush(false); }).wall / 1e6);
}
chunks.sort((a, b) => a - b);
store.stop();
tick += 60_000;
const restored = createReputationRoster();
const store2 = createRosterStore({ db, roster: restored, clock: wall, ticker, log: silent, everyMs: 3_600_000 });
const atStart = timed(1, () => store2.start());
store2.stop();
db.close();
rmSync(dbDir, { recursive: true, force: true });
const storeOk = restored.size === ROSTER;
const ok = used <= BUDGET && snap.total === SOURCES && heavyFound && singleCount >= 1 && rosterOk && storeOk;

const markdown = [
  '### Detection memory: 1,000,000 distinct sources in the traffic sketch',
  '',
  `Command: \`npm run bench:detect\` (re-executes as \`node --expose-gc --import tsx bench/detect-memory.ts\`) — ${new Date().toISOString().slice(0, 10)},`
    + ` Node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg()[0]?.toFixed(1)} at the end (2 cores shared with other work: times are indicative).`,
  `${SOURCES.toLocaleString('en')} distinct sources (80% IPv4 127.x.y.z, 20% IPv6 2001:db8::/32), one request each plus 2% from three heavy hitters, all in one 10 s window`,
  '(10 one-second buckets); default sketch: per bucket 1,024 Space-Saving counters per dimension, and for clients and prefixes a count-min of 32,768 × 4 with a 1,024-key top-k; plus a 4,096-entry strike counter.',
  'Memory is heap used + array buffers after two full GCs, minus the same before the sketch was created.',
  '',
  '| measure | value |',
  '|---|---:|',
  `| retained memory, empty sketch | ${mib(empty)} MiB |`,
  `| retained memory after 1,000,000 sources | **${mib(used)} MiB** (budget 128 MiB: ${used <= BUDGET ? 'within' : 'OVER'}) |`,
  `| building one observation (strings + addressPrefixes), baseline: CPU / wall | ${build.cpu.toFixed(0)} / ${build.wall.toFixed(0)} ns |`,
  `| building + observe: CPU / wall | ${fed.cpu.toFixed(0)} / ${fed.wall.toFixed(0)} ns (observe ≈ ${(fed.cpu - build.cpu).toFixed(0)} ns CPU, ×${(fed.cpu / build.cpu).toFixed(1)} the baseline) |`,
  `| snapshot(32) of the full window (once per second): CPU / wall | ${snapshotCost.cpu.toFixed(1)} / ${snapshotCost.wall.toFixed(1)} ms |`,
  `| requests in the window / heavy hitters on top / count of a one-request source | ${snap.total.toLocaleString('en')} / ${heavyFound ? 'yes' : 'NO'} / ${singleCount} |`,
  '',
  'Memory does not grow with the number of sources: every structure is sized at creation (count-min for any single',
  'source\'s rate, Space-Saving for the top values); a million sources only churn the heavy-hitter keys.',
  `A one-request source reads ${singleCount}: count-min never under-counts and over-counts by at most ε·N per bucket with probability 1 − e^−4`,
  `(ε = e/32,768; N = ${PER_SECOND.toLocaleString('en')} requests per one-second bucket here, so ε·N ≈ ${((Math.E / 32768) * PER_SECOND).toFixed(1)}), summed over the buckets of the window.`,
  'CPU time is this process\'s own (process.cpuUsage), the fairer figure on a machine shared with other runs; wall time is shown beside it.',
  '',
  `**The reputation roster** (\`detection.wokenReputations\`, src/shield/reputation/roster.ts) at its bound: ${ROSTER.toLocaleString('en')} reputations`,
  'presented over the hour before an attack (12-character ids, as issued), then judged as during it. Memory as above, around the roster alone.',
  '',
  '| measure | value |',
  '|---|---:|',
  `| retained memory, ${ROSTER.toLocaleString('en')} reputations (map, recency order, two rings of first sightings) | **${mib(rosterUsed)} MiB** |`,
  `| building an id, baseline: CPU | ${idOnly.cpu.toFixed(0)} ns |`,
  `| first sighting (entry, ring, sweep): CPU / wall | ${presented.cpu.toFixed(0)} / ${presented.wall.toFixed(0)} ns (id included) |`,
  `| a sighting of a reputation remembered (every request with one): CPU / wall | ${again.cpu.toFixed(0)} / ${again.wall.toFixed(0)} ns (id included) |`,
  `| judging a woken reputation, the attack's first (usual rate over 360 bins): wall | ${(firstJudge.wall / 1000).toFixed(0)} µs |`,
  `| judging a woken reputation, then (usual rate reused): CPU / wall | ${judged.cpu.toFixed(0)} / ${judged.wall.toFixed(0)} ns |`,
  `| judging customers first seen across the hour before (surge rule, 360 baselines): CPU / wall | ${customers.cpu.toFixed(0)} / ${customers.wall.toFixed(0)} ns |`,
  '',
  'Kept in `storage.database` (src/shield/reputation/roster-store.ts; a file in the temporary directory, WAL): each figure is a stall of the event loop.',
  '',
  '| measure | value |',
  '|---|---:|',
  `| writing the whole roster at once (at stop), ${ROSTER.toLocaleString('en')} rows: wall | ${(atStop.wall / 1e6).toFixed(0)} ms |`,
  `| one chunk of the periodic writes (${CHUNK_ROWS.toLocaleString('en')} rows, one turn of the event loop), ten of them: median / worst wall | ${(chunks[5] ?? 0).toFixed(1)} / ${(chunks[9] ?? 0).toFixed(1)} ms |`,
  `| restoring it at start (${restored.size.toLocaleString('en')} reputations read and taken back): wall | ${(atStart.wall / 1e6).toFixed(0)} ms |`,
].join('\n');
console.log(markdown);
if (process.argv.includes('--no-record')) console.log('\n(not recorded)');
else { replaceMarkdownSection(new URL('../docs/benchmarks.md', import.meta.url), 'bench:detect', markdown); console.log('\nwrote docs/benchmarks.md'); }
if (sink < 0) console.log(sink);
process.exit(ok ? 0 : 1);
