import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout. Writes are asynchronous (pino.destination with
 * sync: false), so an access log line costs the hot path a serialisation, not a write syscall.
 */
export function createLogger(level: string, opts: { destination?: number | string; sync?: boolean } = {}): Logger {
  // Asynchronous: SonicBoom coalesces lines written in the same tick into one write, off the request path.
  const dest = pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? false });
  return pino({ level, base: { svc: 'rempart' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger = (): Logger => pino({ level: 'silent' });
