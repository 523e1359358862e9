import { setMaxListeners } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createAddressAllocator, prefix24, type AddressLayout } from './addresses.js';
import type { ChallengeSolver } from './challenge.js';
import { createThreadedSolver } from './solver-threads.js';
import { startFlood, type FloodSpec, type RunningFlood } from './flood.js';
import { pickIdentity, type BrowserIdentity } from './headers.js';
import { DRILL_CLASSES, latencySummary, perSecond, summarize, summarizeByClass, timeToMitigation, type ClassSummary, type DrillClass, type LegitSample, type Mitigation, type SeriesPoint } from './metrics.js';
import { populationIdentities, startPopulation, type RunningPopulation } from './population.js';
import { createOriginSampler, type OriginReport } from './origin-stats.js';
import { createRng, type Rng } from './rng.js';
import { checkTarget } from './safety.js';
import { getScenario, resolveParams } from './scenarios.js';
import { startSlow, type RunningSlow } from './slow.js';
import { startSlowRead } from './slow-read.js';
import { startWebSocketHold } from './websocket-hold.js';
import { startH2SlowPost, startRapidReset } from './h2-slow.js';
import { DEFAULT_USER_SETTINGS, type GoalName, type UserSettings } from './users.js';
import type { WarmupReport } from './warmup.js';

/** Everything a drill needs; see docs/drill.md for what each knob means. */
export interface DrillOptions {
  target: string;
  scenario: string;
  durationS: number;
  /** Think times and polling intervals are divided by this (compressed runs). */
  timeScale?: number;
  seed?: number;
  params?: Record<string, string | number>;
  allowTargets?: string[];
  trackingUsers?: number;
  bankingUsers?: number;
  /** Legitimate users sharing one address (carrier NAT). */
  usersPerAddress?: number;
  /** `disjoint` (default): attackers anywhere in 127/8; `shared-24`: every attack address in a legitimate user's /24. */
  layout?: AddressLayout;
  userSettings?: Partial<UserSettings>;
  /** The origin's /__origin/stats URL, to measure origin load and what reached it. */
  originStats?: string;
  /** Cap on sockets the drill may open (legitimate and attack together). */
  maxConnections?: number;
  /**
   * Seconds of legitimate traffic before the attack starts (at most three quarters of the run).
   * Default 3 s, or the scenario's own lead (a warm-up of its bots).
   */
  leadS?: number;
  /** Grace for pending legitimate requests after the end, ms. */
  graceMs?: number;
  /**
   * Solves the challenges of customers and bots alike, on this thread (a test's). Without one, the
   * customers run on a thread of their own (drill/population.ts) and every proof of work is hashed
   * on solver threads.
   */
  solver?: ChallengeSolver;
  /**
   * Returning customers: the cookie each user of the population before the crowd already holds
   * from earlier visits, by its address and User-Agent (the bench gives them a reputation the
   * shield issued a week before). Newcomers of a crowd never get one: they never visited.
   */
  knownCookie?(address: string, userAgent: string): readonly [string, string] | undefined;
  /** The reputation cookie the target would have issued `ageS` ago (scenario `sleeper-crowd`; the bench knows the key). */
  farmedCookie?(address: string, userAgent: string, ageS: number): readonly [string, string];
  signal?: AbortSignal;
  onProgress?(p: DrillProgress): void;
}

export interface DrillProgress {
  elapsedS: number;
  durationS: number;
  legitAttempts: number;
  legitOk: number;
  /** Attack requests sent during the last full second, and the rate asked for. */
  attackSentLastS: number;
  attackRequestedPerS: number;
  slowHeld: number;
}

export interface AttackComponentReport {
  label: string;
  kind: 'flood' | 'slow';
  sources: number;
  requested: number;
  sent: number;
  requestedRatePerS: number;
  achievedRatePerS: number;
  notSentBusy: number;
  notSentBehind: number;
  /** Due while the bot was solving a challenge. */
  notSentSolving: number;
  /** Due while the bot was logging in again after its session was refused. */
  notSentLoggingIn: number;
  statuses: Record<string, number>;
  challengesSolved?: number;
  /** Times a bot threw its cookies away when refused and started over (`forgetOnRefusal`). */
  identitiesDropped?: number;
  peakHeld?: number;
  longestHeldMs?: number;
  /** Connection flood: connections established per second of the attack (it holds nothing on purpose). */
  connectionsPerS?: number;
  /** Slow read: response bytes read and responses read to their end. */
  bytesRead?: number;
  responsesCompleted?: number;
  /** WebSocket message flood: messages written into the tunnels per second of the attack. */
  messagesPerS?: number;
  /** HTTP/2 attacks: streams opened per second of the attack (rapid reset: each cancelled at once; slow POST: each held). */
  streamsPerS?: number;
  /** Browse-then-flood: warm-up page loads, how many succeeded, bots holding cookies at the attack start. */
  warmup?: WarmupReport;
}

/** The drill's result: what legitimate users experienced, what the attack offered, what the origin saw. */
export interface DrillReport {
  version: 1;
  meta: {
    target: string; scenario: string; params: Record<string, number>; durationS: number; elapsedS: number;
    timeScale: number; seed: number; startedAt: string; stoppedEarly: boolean;
    /** Summaries cover legitimate attempts started in this window (the attack window). */
    window: { fromS: number; toS: number };
    population: {
      tracking: number; banking: number; addresses: number; usersPerAddress: number; crowdFactor: number; layout: AddressLayout; sharedPrefixes: number;
      /** The legitimate users' source addresses (at most 10,000): to pick their lines out of a shield's access log. */
      legitAddresses?: string[];
    };
    distinctSources: boolean;
    machine: { cpus: number; loadavg: number[] };
  };
  legit: {
    classes: Record<DrillClass, ClassSummary>;
    all: ClassSummary;
    routes: Record<string, ClassSummary>;
    goals: Partial<Record<GoalName, { attempts: number; ok: number; successRatio: number | null }>>;
    series: Record<DrillClass | 'all', SeriesPoint[]>;
    challenged: number;
    /** Time to effective mitigation; null when the scenario has no attack (none). */
    mitigation: Mitigation | null;
  };
  attack: {
    components: AttackComponentReport[];
    totals: { requested: number; sent: number; requestedRatePerS: number; achievedRatePerS: number; statuses: Record<string, number>; sources: number };
    series: { sent: number[]; answered: number[]; held: number[] };
  };
  origin: OriginReport;
  generator: {
    /** The attack generator's event loop (this thread): how far behind schedule the attack could fall. */
    eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; cpuCoreShare: number; warnings: string[];
    /** The customers' event loop — their own thread unless a test's solver kept them here: what of it their latencies include. */
    users?: { eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; onThread: boolean };
    /** Proofs of work hashed on the drill's worker threads, customers' and bots' apart: how many, and their wall time (ThreadedSolver.solveMs: the wait for a thread, the hashing, the verify and, for customers, the page its 303 leads back to). */
    solves?: { users: SolveTimes; bots: SolveTimes };
  };
}

/** Solves made and their wall times, ms. */
export interface SolveTimes { count: number; p50Ms: number; p99Ms: number; maxMs: number }

/** Addresses a flood's bots may move to when they log in again as new clients (reused past it). */
const MAX_SPARE_ADDRESSES = 4096;

const solveTimes = (xs: readonly number[]): SolveTimes => {
  if (xs.length === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const l = latencySummary(xs);
  return { count: xs.length, p50Ms: l.p50, p99Ms: l.p99, maxMs: l.max };
};

/** Legitimate users' /24s that also hold attack addresses. */
function sharedPrefixCount(legit: readonly string[], attack: readonly string[]): number {
  const nets = new Set(attack.map(prefix24));
  return new Set(legit.map(prefix24).filter((n) => nets.has(n))).size;
}

const abortableDelay = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) return resolve();
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/** Runs one drill: legitimate users and the scenario's attack against the target, for a bounded time. */
export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const check = checkTarget(opts.target, opts.allowTargets);
  const origin = check.url.origin;
  const durationS = opts.durationS;
  if (!(durationS > 0 && durationS <= 3600)) throw new Error('duration must be in (0, 3600] seconds');
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale >= 1 && timeScale <= 100)) throw new Error('time scale must be in [1, 100]');
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const seconds = Math.ceil(durationS);
  const rng = createRng(seed);
  const allocator = createAddressAllocator(rng.fork());
  const scenario = getScenario(opts.scenario);
  const params = resolveParams(scenario, opts.params);
  // Explicit: as asked, leaving at least a quarter of the run to the attack. Otherwise 3 s (a
  // fifth of a short run at most), or the scenario's own lead (its bots' warm-up, half at most).
  const leadS = opts.leadS !== undefined ? Math.min(opts.leadS, durationS * 0.75)
    : !scenario.leadS ? Math.min(3, durationS * 0.2) : Math.min(scenario.leadS(params), durationS * 0.5);
  // Proofs of work are hashed off the generator's event loop (worker threads) unless a solver is
  // given; the customers' on threads of their own (drill/population.ts). A browser hashes on its own
  // device, whatever the bots do: in one pool a customer's proof of work would queue behind the
  // bots' hashing (solver-crowd: 440 solves of ~0.4 s each on two threads in a 17 s attack, p99 9.4 s).
  const botThreads = opts.solver ? null : createThreadedSolver();
  const settings: UserSettings = { ...DEFAULT_USER_SETTINGS, ...opts.userSettings };
  const plan = scenario.plan(params, { origin, startS: leadS, stopS: durationS, timeScale, rng: rng.fork(), solver: opts.solver ?? botThreads!, password: settings.password, searchInPath: settings.searchInPath, searchPathSuffix: settings.searchPathSuffix, searchByPost: settings.searchByPost, ...(opts.farmedCookie ? { farmedCookie: opts.farmedCookie } : {}) });
  // The customers' random source, drawn where it always was in the run's sequence (a fork's seed):
  // a seed replays the same customers on their thread as it did on this one.
  const userSeed = Math.floor(rng.next() * 4294967296);
  const tracking = opts.trackingUsers ?? 40;
  const banking = opts.bankingUsers ?? 15;
  const perAddr = Math.max(1, opts.usersPerAddress ?? 4);
  const factor = plan.crowd?.factor ?? 1;
  const totalUsers = Math.round((tracking + banking) * factor);

  const attackConns = plan.floods.reduce((a, f) => a + f.sources * f.connectionsPerSource, 0) + plan.slow.reduce((a, s) => a + s.connections, 0);
  const maxConnections = opts.maxConnections ?? 8000;
  if (attackConns + totalUsers * 6 > maxConnections) {
    throw new Error(`the run could open ${attackConns + totalUsers * 6} sockets, above --max-connections ${maxConnections}`);
  }
  const warnings: string[] = [];
  if (!check.distinctSources) warnings.push(`target ${check.host} is not IPv4 loopback: every simulated client shares this machine's address`);

  const pick = (n: number): (string | undefined)[] => (check.distinctSources ? allocator.take(n) : new Array<undefined>(n).fill(undefined));
  const legitAddrs = pick(Math.ceil(totalUsers / perAddr));
  const layout: AddressLayout = opts.layout ?? 'disjoint';
  const legitReal = legitAddrs.filter((a): a is string => !!a);
  const pickAttack = (n: number): (string | undefined)[] => {
    if (!check.distinctSources) return pick(n);
    if (layout === 'shared-24') return allocator.takeSharing(n, legitReal);
    // Behind the customers' own addresses, round-robin: many bots per carrier-NAT address.
    if (layout === 'shared-address') return Array.from({ length: n }, (_, k) => legitAddrs[k % legitAddrs.length]);
    return pick(n);
  };
  // Bots that log in again as new clients (relogin.fresh) move to addresses of their own, drawn as
  // the bots' were, beyond their first ones.
  const spareCount = (f: FloodSpec): number => (f.relogin?.fresh ? Math.min(f.sources * f.relogin.times, MAX_SPARE_ADDRESSES) : 0);
  const floodAddrs = plan.floods.map((f) => pickAttack(f.sources + spareCount(f)));
  const slowAddrs = plan.slow.map((s) => pickAttack(s.sources));
  const attackSet = new Set<string>([...floodAddrs.flat(), ...slowAddrs.flat()].filter((a): a is string => !!a));
  // Loaded during the lead (a worker takes a second or more to load here): a browser's hashing is
  // ready when its page is, and so is an attack tool's when its flood starts. Loaded on their first
  // solve, the bots' threads kept every bot of challenge-solver quiet for the first 650 ms of the
  // attack (all 82 solves ended 655–657 ms after they began: the threads loading, the hashing a few
  // ms) — an artifact of the drill, not a cost a real bot pays. Started only once nothing above can
  // throw (the socket budget, a layout the addresses do not fit): a loaded worker keeps the process
  // alive, and a bench whose cell failed there never exited.
  if (plan.floods.some((f) => f.solver)) botThreads?.warm();
  const legitSet = new Set<string>(legitAddrs.filter((a): a is string => !!a));

  const stopNew = new AbortController();
  const stopRequests = new AbortController();
  setMaxListeners(0, stopNew.signal);
  setMaxListeners(0, stopRequests.signal);
  const onExternal = (): void => { stopNew.abort(); stopRequests.abort(); };
  opts.signal?.addEventListener('abort', onExternal, { once: true });

  // Drawn up front: the shared-address layout gives each bot the agent of a customer at its address.
  const userIdentities = populationIdentities(userSeed, totalUsers);
  const baseUsers = tracking + banking;
  let population: RunningPopulation;
  try {
    population = await startPopulation({
      origin, timeScale, settings, tracking, banking, totalUsers, addresses: legitAddrs, seed: userSeed,
      ...(plan.crowd ? { crowdAtS: plan.crowd.atS } : {}),
      knownCookies: Array.from({ length: Math.min(baseUsers, totalUsers) }, (_, i) => {
        const address = legitAddrs[i % legitAddrs.length];
        return address !== undefined ? opts.knownCookie?.(address, userIdentities[i]!.userAgent) : undefined;
      }),
      stopAtMs: durationS * 1000, graceMs: opts.graceMs ?? 3_000,
    }, opts.solver ? { solver: opts.solver } : {});
  } catch (err) {
    opts.signal?.removeEventListener('abort', onExternal);
    await botThreads?.close();
    throw err;
  }
  // A Ctrl-C while the customers' thread loaded stops them before they start.
  // Removed when the run ends: a bench's one signal outlives its cells (a listener left per cell
  // grew past Node's warning threshold of 10 in a bench run).
  const onExternalPopulation = (): void => population.abort();
  if (opts.signal?.aborted) population.abort();
  else opts.signal?.addEventListener('abort', onExternalPopulation, { once: true });

  const elDelay = monitorEventLoopDelay({ resolution: 20 });
  elDelay.enable();
  const cpu0 = process.cpuUsage();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;

  const sampler = createOriginSampler(opts.originStats, seconds, now);
  try {
    await sampler.start();
  } catch (err) {
    opts.signal?.removeEventListener('abort', onExternal);
    opts.signal?.removeEventListener('abort', onExternalPopulation);
    await Promise.all([population.terminate(), botThreads?.close()]);
    throw err;
  }
  population.start(performance.timeOrigin + t0);

  const attackIdentity = (addrs: readonly (string | undefined)[], attackRng: Rng): BrowserIdentity[] =>
    addrs.map((_, k) => (layout === 'shared-address' ? userIdentities[k % legitAddrs.length]! : pickIdentity(attackRng)));
  const attackRng = rng.fork();
  const floods: RunningFlood[] = plan.floods.map((f, i) => {
    const addrs = floodAddrs[i]!;
    const ids = attackIdentity(addrs, attackRng);
    return startFlood(f, {
      origin, addresses: addrs.slice(0, f.sources), identities: ids.slice(0, f.sources), rng: attackRng.fork(), now, seconds, signal: stopRequests.signal,
      ...(spareCount(f) > 0 ? { spares: { addresses: addrs.slice(f.sources), identities: ids.slice(f.sources) } } : {}),
    });
  });
  const slows: RunningSlow[] = plan.slow.map((s, i) => (s.kind === 'read' ? startSlowRead : s.kind === 'websocket' ? startWebSocketHold
    : s.kind === 'h2-reset' ? startRapidReset : s.kind === 'h2-body' ? startH2SlowPost : startSlow)(s, {
    host: check.host, port: Number(check.url.port || (check.url.protocol === 'https:' ? 443 : 80)), hostHeader: check.url.host, addresses: slowAddrs[i]!,
    ...(check.url.protocol === 'https:' ? { tls: true } : {}),
    identities: attackIdentity(slowAddrs[i]!, attackRng), rng: attackRng.fork(), now, seconds, signal: stopRequests.signal,
  }));

  const progress = opts.onProgress && setInterval(() => {
    const sec = Math.floor(now() / 1000) - 1;
    opts.onProgress!({
      elapsedS: now() / 1000, durationS, legitAttempts: population.progress.attempts, legitOk: population.progress.ok,
      attackSentLastS: floods.reduce((a, f) => a + (f.counters.sentPerSecond[sec] ?? 0), 0),
      attackRequestedPerS: plan.floods.reduce((a, f) => a + (now() / 1000 >= f.startS ? f.ratePerS * (f.schedule ? f.schedule(now() / 1000) : 1) : 0), 0),
      slowHeld: slows.reduce((a, s) => a + s.held, 0),
    });
  }, 500);

  await abortableDelay(Math.max(0, durationS * 1000 - now()), stopNew.signal);
  stopNew.abort();
  // The customers stop on their own clock, give their pending requests the grace and cut the rest;
  // the window ends when they stopped starting requests.
  const pop = await population.done;
  const { samples, goals } = pop;
  const stoppedAtMs = pop.stoppedAtMs;
  const elapsedS = Math.min(stoppedAtMs / 1000, durationS);
  stopRequests.abort();
  await Promise.all([...floods.map((f) => f.done), ...slows.map((s) => s.done)]);
  clearInterval(progress);
  const originReport = await sampler.finish(attackSet, legitSet);
  await botThreads?.close();
  opts.signal?.removeEventListener('abort', onExternal);
  opts.signal?.removeEventListener('abort', onExternalPopulation);
  elDelay.disable();
  const cpu = process.cpuUsage(cpu0);
  const wallS = now() / 1000;

  const windowTo = stoppedAtMs;
  const fromMs = leadS * 1000 < windowTo ? leadS * 1000 : 0;
  const byRoute = new Map<string, LegitSample[]>();
  for (const s of samples) { const l = byRoute.get(s.route) ?? []; l.push(s); byRoute.set(s.route, l); }
  const seriesSeconds = Math.max(1, Math.ceil(elapsedS));
  const series = Object.fromEntries(DRILL_CLASSES.map((c) => [c, perSecond(samples.filter((s) => s.cls === c), seriesSeconds)])) as Record<DrillClass | 'all', SeriesPoint[]>;
  series.all = perSecond(samples, seriesSeconds);

  const components: AttackComponentReport[] = [
    ...floods.map((f, i) => ({ c: f.counters, sources: plan.floods[i]!.sources, solved: plan.floods[i]!.solver ? f.solved : undefined, forgotten: plan.floods[i]!.forgetOnRefusal ? f.forgotten : undefined, warmup: f.warmup })),
    ...slows.map((s, i) => ({
      c: s.counters, sources: plan.slow[i]!.sources, peakHeld: Math.max(0, ...s.counters.heldPerSecond), longestHeldMs: s.longestHeldMs,
      bytesRead: s.bytesRead, responsesCompleted: s.responsesCompleted, messagesSent: s.messagesSent, streamsSent: s.streamsSent, warmup: s.warmup,
    })),
  ].map((x) => {
    const c = x.c;
    const active = Math.max(c.activeSeconds, 1e-9);
    const r: AttackComponentReport = {
      label: c.label, kind: c.kind, sources: x.sources, requested: c.requested, sent: c.sent,
      requestedRatePerS: c.activeSeconds > 0 ? c.requested / active : 0, achievedRatePerS: c.activeSeconds > 0 ? c.sent / active : 0,
      notSentBusy: c.notSentBusy, notSentBehind: c.notSentBehind, notSentSolving: c.notSentSolving, notSentLoggingIn: c.notSentLoggingIn, statuses: c.statuses,
    };
    if ('solved' in x && x.solved !== undefined) r.challengesSolved = x.solved;
    if ('forgotten' in x && x.forgotten !== undefined) r.identitiesDropped = x.forgotten;
    if ('peakHeld' in x) { r.peakHeld = x.peakHeld; r.longestHeldMs = x.longestHeldMs; }
    if ('bytesRead' in x && x.bytesRead !== undefined) { r.bytesRead = x.bytesRead; r.responsesCompleted = x.responsesCompleted ?? 0; }
    if ('messagesSent' in x && x.messagesSent !== undefined) r.messagesPerS = c.activeSeconds > 0 ? x.messagesSent / active : 0;
    if ('streamsSent' in x && x.streamsSent !== undefined) r.streamsPerS = c.activeSeconds > 0 ? x.streamsSent / active : 0;
    if ('warmup' in x && x.warmup) r.warmup = { ...x.warmup };
    if (c.kind === 'flood' && c.requested > 0 && c.sent < 0.9 * c.requested) {
      const why = c.notSentSolving + c.notSentLoggingIn > Math.max(c.notSentBehind, c.notSentBusy)
        ? 'the bots were solving challenges or logging in again (they send nothing meanwhile)'
        : c.notSentBehind > c.notSentBusy
          ? 'this machine could not keep up (generator behind schedule)'
          : 'every connection of the sources was waiting for the target (target back-pressure)';
      warnings.push(`${c.label}: sent ${r.achievedRatePerS.toFixed(0)} req/s of ${r.requestedRatePerS.toFixed(0)} requested — ${why}`);
    }
    const slowSpec = c.kind === 'slow' ? plan.slow.find((s) => s.label === c.label) : undefined;
    if (slowSpec?.kind === 'connect') {
      // A connection flood holds nothing on purpose; what counts is how many it opened.
      r.connectionsPerS = r.achievedRatePerS;
      if (r.achievedRatePerS < 0.9 * slowSpec.openRatePerS) {
        warnings.push(`${c.label}: opened ${r.achievedRatePerS.toFixed(0)} connections/s of ${slowSpec.openRatePerS} asked for (the target's accepts or this machine were the limit)`);
      }
    } else if (slowSpec?.messages && r.messagesPerS !== undefined && r.messagesPerS < 0.9 * slowSpec.connections * 1000 / slowSpec.intervalMs) {
      // The rate a message flood offers is its tunnels times its pace: say which one fell short.
      warnings.push(`${c.label}: sent ${r.messagesPerS.toFixed(0)} messages/s of ${(slowSpec.connections * 1000 / slowSpec.intervalMs).toFixed(0)} asked for (${r.peakHeld ?? 0} of ${slowSpec.connections} tunnels held at most)`);
    } else if (slowSpec && r.peakHeld !== undefined && slowSpec.connections > r.peakHeld * 1.1) {
      warnings.push(`${c.label}: held at most ${r.peakHeld} connections of ${slowSpec.connections} asked for`);
    }
    return r;
  });
  const totalStatuses: Record<string, number> = {};
  for (const c of components) for (const [k, v] of Object.entries(c.statuses)) totalStatuses[k] = (totalStatuses[k] ?? 0) + v;
  const floodComps = components.filter((c) => c.kind === 'flood');
  const sumPerSecond = (pick: (f: RunningFlood | RunningSlow) => number[], list: (RunningFlood | RunningSlow)[]): number[] =>
    Array.from({ length: seriesSeconds }, (_, i) => list.reduce((a, f) => a + (pick(f)[i] ?? 0), 0));

  const elP99 = elDelay.percentile(99) / 1e6;
  const elMax = elDelay.max / 1e6;
  const cpuShare = (cpu.user + cpu.system) / 1e6 / Math.max(wallS, 1e-9);
  const users = pop.eventLoop;
  const where = users.onThread ? 'the customers\' thread\'s' : 'the drill\'s';
  if (users.p99Ms > 100) warnings.push(`${where} event loop delayed up to ${users.p99Ms.toFixed(0)} ms (p99): measured latencies include that much of the drill's own delay`);
  // One long stall hides under the p99 and lands whole in the slowest attempts' latency (the p99 of
  // a class with a few dozen attempts): a bind() walking the ephemeral range did, 9.6 s at once.
  else if (users.maxMs > 1000) warnings.push(`${where} event loop stalled once for ${(users.maxMs / 1000).toFixed(1)} s: the slowest measured latencies may be the drill's own delay`);
  // Apart from the customers, the generator's delay is the attack's: sent behind its schedule.
  if (users.onThread && elP99 > 100) warnings.push(`the attack generator's event loop delayed up to ${elP99.toFixed(0)} ms (p99): the attack was sent up to that much behind its schedule (the customers, on their own thread, did not wait for it)`);
  if (cpuShare > 0.9) warnings.push(`the drill used ${(cpuShare * 100).toFixed(0)}% of a core: this ${cpus().length}-core machine is near the generator's limit`);
  if (originReport.available && originReport.unattributed && originReport.unattributed > 0) {
    warnings.push(`${originReport.unattributed} origin requests came from addresses outside the drill's populations (a proxy that does not forward the client address?)`);
  }

  return {
    version: 1,
    meta: {
      target: origin, scenario: scenario.name, params, durationS, elapsedS, timeScale, seed, startedAt,
      stoppedEarly: opts.signal?.aborted ?? false, window: { fromS: fromMs / 1000, toS: windowTo / 1000 },
      population: {
        tracking, banking, addresses: legitAddrs.length, usersPerAddress: perAddr, crowdFactor: factor, layout,
        sharedPrefixes: sharedPrefixCount(legitReal, [...attackSet]),
        legitAddresses: [...legitSet].slice(0, 10_000),
      },
      distinctSources: check.distinctSources, machine: { cpus: cpus().length, loadavg: loadavg() },
    },
    legit: {
      classes: summarizeByClass(samples, fromMs, windowTo),
      all: summarize(samples, fromMs, windowTo),
      routes: Object.fromEntries([...byRoute].map(([k, v]) => [k, summarize(v, fromMs, windowTo)])),
      goals: Object.fromEntries(Object.entries(goals).map(([k, g]) => [k, { ...g, successRatio: g.attempts ? g.ok / g.attempts : null }])),
      series,
      challenged: samples.filter((s) => s.challenged).length,
      mitigation: plan.floods.length || plan.slow.length || plan.crowd ? timeToMitigation(samples, leadS * 1000, windowTo) : null,
    },
    attack: {
      components,
      totals: {
        requested: components.reduce((a, c) => a + c.requested, 0), sent: components.reduce((a, c) => a + c.sent, 0),
        requestedRatePerS: floodComps.reduce((a, c) => a + c.requestedRatePerS, 0), achievedRatePerS: floodComps.reduce((a, c) => a + c.achievedRatePerS, 0),
        statuses: totalStatuses, sources: attackSet.size,
      },
      series: {
        sent: sumPerSecond((f) => f.counters.sentPerSecond, floods),
        answered: sumPerSecond((f) => f.counters.answeredPerSecond, floods),
        held: sumPerSecond((f) => f.counters.heldPerSecond, slows),
      },
    },
    origin: originReport,
    generator: {
      eventLoopDelayP99Ms: elP99, eventLoopDelayMaxMs: elMax, cpuCoreShare: cpuShare, warnings,
      users: { eventLoopDelayP99Ms: users.p99Ms, eventLoopDelayMaxMs: users.maxMs, onThread: users.onThread },
      ...(botThreads ? { solves: { users: solveTimes(pop.solveMs), bots: solveTimes(botThreads.solveMs) } } : {}),
    },
  };
}
