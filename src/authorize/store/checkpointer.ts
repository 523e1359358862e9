import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's whole program (plain CommonJS, so it needs no TypeScript loader): its own connection
 * to the database runs a PASSIVE checkpoint every `intervalMs`. PASSIVE never takes the write lock,
 * so the service's commits go on while pages are copied and the database file is fsynced.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const run = () => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
};
const timer = setInterval(run, workerData.intervalMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); run(); db.close(); parentPort.close(); } });
`;

/** A running checkpointer: `stop` ends the worker after a last checkpoint. */
export interface Checkpointer { stop(): Promise<void> }

/**
 * Moves SQLite's WAL checkpoints off the event loop. With `wal_autocheckpoint` the connection
 * that commits also copies the WAL back into the database and fsyncs it, inside the commit: a
 * 100–200 ms stall of every request every few thousand commits (measured, see docs/benchmarks.md).
 * Here a worker thread checkpoints instead; the service's connection keeps a large
 * autocheckpoint only as a safety net should the worker fall far behind or die.
 *
 * Under steady writes a PASSIVE checkpoint never finds the WAL fully copied (new commits keep
 * arriving), so the WAL would only grow (280 MB in 20 s at 800 creates/s). When it holds more than
 * `resetFrames`, `onBacklog` is called: the writer then runs a small checkpoint of its own between
 * two commits — only the frames the worker has not copied yet — after which its next commit starts
 * the WAL from the beginning.
 *
 * @example const cp = startCheckpointer('./data/authorize.db', { intervalMs: 250, resetFrames: 8192 }, onError, () => store.checkpoint());
 */
export function startCheckpointer(file: string, opts: { intervalMs: number; resetFrames: number }, onError: (message: string) => void,
  onBacklog: () => void): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs: opts.intervalMs, module } });
  worker.on('message', (m: { error?: string; log?: number; checkpointed?: number }) => {
    if (m.error) onError(m.error);
    else if ((m.log ?? 0) > opts.resetFrames) onBacklog();
  });
  worker.on('error', (e) => onError(e.message));
  worker.unref();
  return {
    stop: () => new Promise<void>((resolve) => {
      const kill = setTimeout(() => { void worker.terminate().then(() => resolve()); }, 2_000);
      worker.once('exit', () => { clearTimeout(kill); resolve(); });
      worker.postMessage('stop');
    }),
  };
}
