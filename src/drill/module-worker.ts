import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';

/**
 * The drill's worker threads each run one of its own modules, told apart by a role in their
 * `workerData`: a module's worker code runs only in a thread started for its role, never in another
 * drill thread that merely imports it (the customers' thread imports the solver's module to start
 * solver threads of its own).
 */
export type WorkerRole = 'pow-solver' | 'population';

/**
 * Starts a worker thread running `moduleUrl` (the caller's `import.meta.url`) in `role`. Run from
 * TypeScript sources, the worker registers tsx's loader first (Node 20 workers do not inherit loader
 * hooks, and `--import tsx` in execArgv comes too late).
 */
export function startModuleWorker(moduleUrl: string, role: WorkerRole, data?: unknown): Worker {
  const file = fileURLToPath(moduleUrl);
  const workerData = { role, data };
  if (!file.endsWith('.ts')) return new Worker(file, { workerData });
  const selfImport = 'import(' + JSON.stringify(moduleUrl) + ')';
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return ${selfImport}; })`, { eval: true, workerData });
}

/** This thread's port and data when it was started for `role`; undefined anywhere else. */
export function workerPortFor(role: WorkerRole): { port: MessagePort; data: unknown } | undefined {
  if (isMainThread || !parentPort) return undefined;
  const wd = workerData as { role?: unknown; data?: unknown } | null;
  return wd?.role === role ? { port: parentPort, data: wd.data } : undefined;
}
