/**
 * Child-process entry for the bench: runs the origin or the Rempart shield in its own process (its
 * own event loop and core, as in production), prints `{"url": ...}` on one line, and runs until
 * SIGTERM. Usage: node --import tsx serve.ts origin|rempart '<json options>'
 */
import { startOrigin } from '../../demo/origin/server.js';
import { startRempart } from './targets.js';

const [kind, raw = '{}'] = process.argv.slice(2);
const opts = JSON.parse(raw) as Record<string, unknown>;
const server = kind === 'origin'
  ? await startOrigin(opts)
  : kind === 'rempart' ? await startRempart(Array.isArray(opts.originUrls) ? opts.originUrls.map(String) : String(opts.originUrl), { cache: opts.cache === true, plain: opts.plain === true, ...(typeof opts.accessLog === 'string' ? { accessLog: opts.accessLog } : {}), ...(typeof opts.logFile === 'string' ? { logFile: opts.logFile } : {}), ...(typeof opts.secret === 'string' ? { secret: opts.secret } : {}),
    ...(typeof opts.port === 'number' ? { port: opts.port } : {}), ...(typeof opts.database === 'string' ? { database: opts.database } : {}),
    ...(typeof opts.tls === 'object' && opts.tls !== null ? { tls: opts.tls as { cert: string; key: string } } : {}) }) : null;
if (!server) throw new Error(`unknown server kind ${kind}`);
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = async (): Promise<void> => { await server.close(); process.exit(0); };
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// The bench kills its children by PID; if the bench itself is killed first, its children are
// re-parented and would keep their ports and CPU: stop once the parent is gone.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) void stop(); }, 1000).unref();
