import { cpus } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { createPowSolver, nojsRedirectTarget, parsePowChallenge, type ChallengeHttp, type ChallengeResponse, type ChallengeSolver } from './challenge.js';
import { startModuleWorker, workerPortFor } from './module-worker.js';

/**
 * Runs the drill's challenge solver (`createPowSolver`, unchanged) in worker threads, so that the
 * proof-of-work of hundreds of simulated browsers and bots does not stall the generator's event
 * loop. Only the hashing moves: every HTTP request the solver makes is sent back to the main thread
 * and made there by the same client (address, cookies, connections). `detect` stays on the main
 * thread (it only reads headers).
 */
export interface ThreadedSolver extends ChallengeSolver {
  /** Terminates the workers (started on the first solve, or by `warm`). */
  close(): Promise<void>;
  /** Starts the workers now, so that the first solve does not wait for them to load (a second or more). */
  warm(): void;
  /** Workers loaded and solving; solves made on them so far. */
  readonly threadsReady: number;
  readonly solvedOnThreads: number;
  /**
   * Wall time of each proof of work handed to a worker, ms (at most 100,000 kept): the wait for a
   * worker, the hashing, the verify, and — when the client's HTTP follows redirects, as the
   * customers' browsers do, not the flood's bots — the page its 303 leads back to, which a target
   * under attack may queue.
   */
  readonly solveMs: readonly number[];
}

type ToWorker =
  | { kind: 'solve'; id: number; res: ChallengeResponse }
  | { kind: 'http-result'; id: number; call: number; res?: ChallengeResponse; error?: string };
type FromWorker =
  | { kind: 'http'; id: number; call: number; method: string; path: string; init?: { body?: string; contentType?: string } }
  | { kind: 'done'; id: number; ok: boolean; error?: string }
  | { kind: 'ready' };

interface Pending { http: ChallengeHttp; resolve(ok: boolean): void; reject(err: Error): void }

/** A solver whose solves run on `threads` workers (default: the machine's cores, at most 4). */
export function createThreadedSolver(opts: { threads?: number } = {}): ThreadedSolver {
  const inline = createPowSolver();
  const size = Math.max(1, Math.min(opts.threads ?? cpus().length, 4));
  const workers: Worker[] = [];
  const ready: Worker[] = [];
  const waiting: Array<() => void> = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let turn = 0;
  let solvedOnThreads = 0;
  const solveMs: number[] = [];

  const onMessage = (w: Worker) => (m: FromWorker): void => {
    if (m.kind === 'ready') { ready.push(w); for (const go of waiting.splice(0)) go(); return; }
    const p = pending.get(m.id);
    if (!p) return;
    if (m.kind === 'done') {
      pending.delete(m.id);
      solvedOnThreads++;
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.ok);
      return;
    }
    p.http.request(m.method, m.path, m.init).then(
      (res) => w.postMessage({ kind: 'http-result', id: m.id, call: m.call, res: plain(res) } satisfies ToWorker),
      (err: unknown) => w.postMessage({ kind: 'http-result', id: m.id, call: m.call, error: (err as Error)?.message ?? 'request failed' } satisfies ToWorker),
    );
  };

  const start = (): void => {
    while (workers.length < size) {
      // The worker loads this very module (no other path is ever imported this way).
      const w = startModuleWorker(import.meta.url, 'pow-solver');
      w.unref();
      w.on('message', onMessage(w));
      w.on('error', (err) => {
        const i = ready.indexOf(w);
        if (i >= 0) ready.splice(i, 1);
        for (const [id, p] of pending) { pending.delete(id); p.reject(err); }
      });
      workers.push(w);
    }
  };

  return {
    get threadsReady() { return ready.length; },
    get solvedOnThreads() { return solvedOnThreads; },
    solveMs,
    detect: (res) => inline.detect(res),
    warm: () => start(),
    async solve(first, http, signal) {
      if (signal?.aborted) return false;
      start();
      // The no-JavaScript redirects cost no hashing: followed here, as the solver would (bounded).
      let res = first;
      for (let step = 0, next = nojsRedirectTarget(res); step < 3 && next !== null && !signal?.aborted; step++, next = nojsRedirectTarget(res)) {
        res = await http.request('GET', next);
      }
      const bits = parsePowChallenge(res)?.bits;
      if (bits === undefined) return res.status < 400;
      if (ready.length === 0) {
        // Workers take a second or more to load. A small proof of work (<= 12 bits, a few ms) is
        // solved here meanwhile; anything else waits for a worker rather than stall the loop.
        if (bits <= INLINE_MAX_BITS) return inline.solve(res, http, signal);
        const loaded = await new Promise<boolean>((resolve) => {
          waiting.push(() => resolve(true));
          signal?.addEventListener('abort', () => resolve(false), { once: true });
        });
        if (!loaded || ready.length === 0) return false;
      }
      const w = ready[turn++ % ready.length]!;
      const id = nextId++;
      const startedMs = performance.now();
      const timed = (ok: boolean): boolean => { if (solveMs.length < 100_000) solveMs.push(performance.now() - startedMs); return ok; };
      return new Promise<boolean>((resolve, reject) => {
        pending.set(id, { http, resolve: (ok) => resolve(timed(ok)), reject });
        // An aborted solve is abandoned: its worker finishes the hash and its answer is ignored.
        signal?.addEventListener('abort', () => { if (pending.delete(id)) resolve(false); }, { once: true });
        w.postMessage({ kind: 'solve', id, res: plain(res) } satisfies ToWorker);
      });
    },
    async close() {
      ready.length = 0;
      for (const go of waiting.splice(0)) go();
      await Promise.all(workers.splice(0).map((w) => w.terminate()));
      for (const [id, p] of pending) { pending.delete(id); p.resolve(false); }
    },
  };
}

/** Proofs of work up to this many bits are solved on the main thread while the workers load. */
const INLINE_MAX_BITS = 12;

/** A response as structured-clone-safe data (undici's header objects have a null prototype). */
const plain = (r: ChallengeResponse): ChallengeResponse => ({ status: r.status, headers: { ...r.headers }, body: r.body, url: r.url });

const solverThread = workerPortFor('pow-solver');
if (solverThread) {
  const { port } = solverThread;
  const solver = createPowSolver();
  const calls = new Map<string, { resolve(r: ChallengeResponse): void; reject(e: Error): void }>();
  let nextCall = 0;
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'http-result') {
      const c = calls.get(`${m.id}:${m.call}`);
      calls.delete(`${m.id}:${m.call}`);
      if (m.res) c?.resolve(m.res);
      else c?.reject(new Error(m.error ?? 'request failed'));
      return;
    }
    const http: ChallengeHttp = {
      request: (method, path, init) => new Promise<ChallengeResponse>((resolve, reject) => {
        const call = nextCall++;
        calls.set(`${m.id}:${call}`, { resolve, reject });
        port.postMessage({ kind: 'http', id: m.id, call, method, path, ...(init ? { init } : {}) } satisfies FromWorker);
      }),
    };
    solver.solve(m.res, http).then(
      (ok) => port.postMessage({ kind: 'done', id: m.id, ok } satisfies FromWorker),
      (err: unknown) => port.postMessage({ kind: 'done', id: m.id, ok: false, error: (err as Error)?.message ?? 'solve failed' } satisfies FromWorker),
    );
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}
