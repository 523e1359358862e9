import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { createBrowser, type Browser } from './browser.js';
import type { ChallengeSolver } from './challenge.js';
import { pickIdentity, type BrowserIdentity } from './headers.js';
import type { LegitSample } from './metrics.js';
import { startModuleWorker, workerPortFor } from './module-worker.js';
import { createRng, type Rng } from './rng.js';
import { createThreadedSolver } from './solver-threads.js';
import { runUser, type GoalName, type UserContext, type UserSettings } from './users.js';

/**
 * A drill's legitimate population: its customers, each a simulated browser, started and stopped on
 * the run's clock. It runs on a thread of its own by default, so that what the customers measure is
 * what the target gave them, not the flood generator's own stalls: an upload flood building 75 MB/s
 * of bodies held the generator's event loop up to 119 ms at p99 (321 ms at most), and every
 * customer's timer and answer on that loop waited with it — the critical p99 read 3.6× the no-attack
 * run's (docs/benchmarks.md, thirty-first session).
 *
 * Everything here crosses to the thread as data (structured clone): no functions.
 */
export interface PopulationSpec {
  origin: string;
  timeScale: number;
  settings: UserSettings;
  tracking: number;
  banking: number;
  /** Users in all: the base population (tracking + banking), then the crowd's newcomers. */
  totalUsers: number;
  /** When the crowd's newcomers arrive, s after the run's start (no crowd: undefined). */
  crowdAtS?: number;
  /** Source address of each address slot; user i takes slot i mod length (carrier NAT). */
  addresses: readonly (string | undefined)[];
  /** The users' random source: their identities drawn first, then one fork per user in start order. */
  seed: number;
  /** Per base user, the cookie it already holds from earlier visits (a returning customer). */
  knownCookies: readonly (readonly [string, string] | undefined)[];
  /** Users start nothing new after this, ms after the run's start. */
  stopAtMs: number;
  /** Pending requests get this long to finish after the stop, then are cut (recorded unfinished). */
  graceMs: number;
}

/** What the population measured. */
export interface PopulationResult {
  samples: LegitSample[];
  goals: Partial<Record<GoalName, { attempts: number; ok: number }>>;
  /** When users stopped starting requests, ms after the run's start: the end of the measured window. */
  stoppedAtMs: number;
  /** The users' own event loop's delay: what of it their latencies include. */
  eventLoop: { p99Ms: number; maxMs: number; onThread: boolean };
  /** Wall time of each proof of work a customer's browser solved on the solver threads, ms. */
  solveMs: number[];
}

/** Attempts made and succeeded so far (the run's progress line). */
export interface PopulationProgress { attempts: number; ok: number }

/** A population under way. */
export interface RunningPopulation {
  readonly progress: PopulationProgress;
  /** Starts the users on the run's clock: `t0` is the run's start as an absolute time (performance.timeOrigin + now). */
  start(t0: number): void;
  /** The run was stopped from outside: users stop at once, their pending requests are cut. */
  abort(): void;
  /** Settles once the users stopped, their requests ended or were cut and their browsers closed. */
  readonly done: Promise<PopulationResult>;
  /** Ends it now, whatever its state (a run that failed before or while it ran): its thread is terminated. */
  terminate(): Promise<void>;
}

/** The identities of the population's users, in user order: the same draw as its thread makes. */
export function populationIdentities(seed: number, totalUsers: number): BrowserIdentity[] {
  return drawIdentities(createRng(seed), totalUsers);
}

/** The first draws of the population's random source: one identity per user, in user order. */
const drawIdentities = (rng: Rng, n: number): BrowserIdentity[] => Array.from({ length: n }, () => pickIdentity(rng));

const delay = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal?.aborted) return resolve();
  const t = setTimeout(resolve, Math.max(0, ms));
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/**
 * Runs the population on this thread until `spec.stopAtMs` (or `abort`), then gives pending requests
 * the grace and cuts the rest. `now` is ms since the run's start.
 */
export async function runPopulation(
  spec: PopulationSpec, now: () => number, solver: ChallengeSolver, progress: PopulationProgress, abort: AbortSignal, onThread: boolean,
): Promise<PopulationResult> {
  const elDelay = monitorEventLoopDelay({ resolution: 20 });
  elDelay.enable();
  const stopNew = new AbortController();
  const stopRequests = new AbortController();
  setMaxListeners(0, stopNew.signal);
  setMaxListeners(0, stopRequests.signal);
  const onAbort = (): void => { stopNew.abort(); stopRequests.abort(); };
  // Stopped before it started (a Ctrl-C while its thread loaded): nothing is started at all.
  if (abort.aborted) onAbort();
  else abort.addEventListener('abort', onAbort, { once: true });

  const rng = createRng(spec.seed);
  const identities = drawIdentities(rng, spec.totalUsers);
  const samples: LegitSample[] = [];
  const goals: PopulationResult['goals'] = {};
  const browsers: Browser[] = [];
  const users: Promise<void>[] = [];
  const base = spec.tracking + spec.banking;
  const startUser = (i: number): void => {
    if (stopNew.signal.aborted) return;
    const profile = i % base < spec.tracking ? 'tracking' : 'banking';
    const known = i < base ? spec.knownCookies[i] : undefined;
    const browser = createBrowser({
      origin: spec.origin, localAddress: spec.addresses[i % spec.addresses.length], identity: identities[i]!, solver, ...(known ? { cookies: [known] } : {}),
      ...(spec.settings.h2 ? { h2: true } : {}),
    });
    browsers.push(browser);
    const ctx: UserContext = {
      browser, rng: rng.fork(), origin: spec.origin, timeScale: spec.timeScale, now, settings: spec.settings, signal: stopNew.signal, requestSignal: stopRequests.signal,
      record: (s) => { samples.push(s); progress.attempts++; if (s.outcome === 'ok') progress.ok++; },
      goal: (name, ok) => { const g = (goals[name] ??= { attempts: 0, ok: 0 }); g.attempts++; if (ok) g.ok++; },
    };
    users.push(runUser(ctx, profile, `client${100000 + i}`).catch(() => undefined));
  };
  for (let i = 0; i < Math.min(base, spec.totalUsers); i++) startUser(i);
  const crowd = spec.crowdAtS !== undefined && spec.totalUsers > base
    ? setTimeout(() => { for (let i = base; i < spec.totalUsers; i++) startUser(i); }, Math.max(0, spec.crowdAtS * 1000 - now()))
    : undefined;

  await delay(spec.stopAtMs - now(), stopNew.signal);
  // The window ends when users stop starting requests, not at the nominal duration: a user timer
  // that fired late (a loaded event loop) starts its request after it, and a request sent must be
  // a request counted (test/drill/users.test.ts compares with what the server received).
  const stoppedAtMs = now();
  stopNew.abort();
  clearTimeout(crowd);
  const settled = Promise.all(users);
  await Promise.race([settled, delay(spec.graceMs, stopRequests.signal)]);
  stopRequests.abort();
  await Promise.race([settled, delay(2_000)]);
  await Promise.all(browsers.map((b) => b.close().catch(() => undefined)));
  abort.removeEventListener('abort', onAbort);
  elDelay.disable();
  return {
    samples, goals, stoppedAtMs, solveMs: [],
    eventLoop: { p99Ms: elDelay.percentile(99) / 1e6, maxMs: elDelay.max / 1e6, onThread },
  };
}

type ToThread = { kind: 'start'; t0: number } | { kind: 'abort' };
type FromThread = { kind: 'ready' } | { kind: 'progress'; attempts: number; ok: number } | { kind: 'done'; result: PopulationResult } | { kind: 'failed'; error: string };

/**
 * Starts the population: on a thread of its own, its browsers' proofs of work on solver threads of
 * its own (as a browser hashes on its own device, whatever the bots do) — or, given a `solver` (a
 * test's, which cannot cross to a thread), on this thread with it. Resolves once it can start: a
 * thread takes a second or more to load, and the run's clock must not start before its customers can.
 */
export async function startPopulation(spec: PopulationSpec, opts: { solver?: ChallengeSolver } = {}): Promise<RunningPopulation> {
  const progress: PopulationProgress = { attempts: 0, ok: 0 };
  if (opts.solver || spec.totalUsers === 0) {
    const threads = opts.solver ? undefined : createThreadedSolver();
    const solver = opts.solver ?? threads!;
    const aborted = new AbortController();
    let begin!: (t0: number) => void;
    const started = new Promise<number>((resolve) => { begin = resolve; });
    const done = started.then(async (t0) => {
      const result = await runPopulation(spec, () => performance.timeOrigin + performance.now() - t0, solver, progress, aborted.signal, false);
      if (opts.solver) return result;
      await threads!.close();
      return { ...result, solveMs: [...threads!.solveMs] };
    });
    const abort = (): void => aborted.abort();
    return { progress, start: begin, abort, done, terminate: async () => { abort(); await threads?.close(); } };
  }
  const worker = startModuleWorker(import.meta.url, 'population', spec);
  const done = new Promise<PopulationResult>((resolve, reject) => {
    worker.on('message', (m: FromThread) => {
      if (m.kind === 'progress') { progress.attempts = m.attempts; progress.ok = m.ok; } else if (m.kind === 'done') resolve(m.result);
      else if (m.kind === 'failed') reject(new Error(`the drill's customers' thread failed: ${m.error}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`the drill's customers' thread exited (${code}) before its report`)));
  }).finally(() => void worker.terminate());
  await new Promise<void>((resolve, reject) => {
    const onReady = (m: FromThread): void => { if (m.kind === 'ready') { worker.off('message', onReady); resolve(); } };
    worker.on('message', onReady);
    done.catch(reject);
  });
  return {
    progress,
    start: (t0) => worker.postMessage({ kind: 'start', t0 } satisfies ToThread),
    abort: () => worker.postMessage({ kind: 'abort' } satisfies ToThread),
    done,
    terminate: async () => { await worker.terminate(); },
  };
}

/** The population's thread: loads, says ready, runs on `start` and sends its result back. */
function serveThread(port: MessagePort, spec: PopulationSpec): void {
  const solver = createThreadedSolver();
  solver.warm();
  const progress: PopulationProgress = { attempts: 0, ok: 0 };
  const aborted = new AbortController();
  let ticker: ReturnType<typeof setInterval> | undefined;
  port.on('message', (m: ToThread) => {
    if (m.kind === 'abort') { aborted.abort(); return; }
    ticker = setInterval(() => port.postMessage({ kind: 'progress', ...progress } satisfies FromThread), 250);
    runPopulation(spec, () => performance.timeOrigin + performance.now() - m.t0, solver, progress, aborted.signal, true)
      .then(async (result) => {
        clearInterval(ticker);
        await solver.close();
        port.postMessage({ kind: 'done', result: { ...result, solveMs: [...solver.solveMs] } } satisfies FromThread);
      }, (err: unknown) => {
        clearInterval(ticker);
        port.postMessage({ kind: 'failed', error: (err as Error)?.stack ?? String(err) } satisfies FromThread);
      });
  });
  port.postMessage({ kind: 'ready' } satisfies FromThread);
}

const populationThread = workerPortFor('population');
if (populationThread) serveThread(populationThread.port, populationThread.data as PopulationSpec);
