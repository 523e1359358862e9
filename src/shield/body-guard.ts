import { Transform, type TransformCallback } from 'node:stream';
import type { Clock } from '../core/clock.js';
import { RempartError } from '../core/errors.js';

/** Limits applied to request bodies while they stream to the upstream. */
export interface BodyLimits {
  maxBodyBytes: number;
  bodyIdleTimeoutMs: number;
  minBodyRateBytesPerS: number;
  bodyGraceMs: number;
}

/**
 * Why a body must be cut, or undefined: the pure policy behind the guard. Unlike nginx's
 * client_body_timeout (which only bounds the gap between two reads, so a client sending one byte
 * every few seconds survives), this also enforces a minimum average rate after a grace period.
 */
export function bodyViolation(s: { bytes: number; startedAt: number; lastDataAt: number }, now: number, l: BodyLimits):
  'RMP_ERR_BODY_TIMEOUT' | 'RMP_ERR_BODY_TOO_SLOW' | undefined {
  if (now - s.lastDataAt >= l.bodyIdleTimeoutMs) return 'RMP_ERR_BODY_TIMEOUT';
  const elapsed = now - s.startedAt;
  if (l.minBodyRateBytesPerS > 0 && elapsed >= l.bodyGraceMs && (s.bytes * 1000) / elapsed < l.minBodyRateBytesPerS) {
    return 'RMP_ERR_BODY_TOO_SLOW';
  }
  return undefined;
}

class BodyGuard extends Transform {
  bytes = 0;
  readonly startedAt: number;
  lastDataAt: number;
  constructor(private readonly clock: Clock, readonly limits: BodyLimits, private readonly onDone: (g: BodyGuard) => void) {
    super();
    this.startedAt = clock.now();
    this.lastDataAt = this.startedAt;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.lastDataAt = this.clock.now();
    if (this.limits.maxBodyBytes > 0 && this.bytes > this.limits.maxBodyBytes) {
      cb(new RempartError('RMP_ERR_BODY_TOO_LARGE', `request body over ${this.limits.maxBodyBytes} bytes`));
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.onDone(this);
    cb();
  }
  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.onDone(this);
    cb(err);
  }
}

/** Wraps request bodies in guards checked by one shared ticker (no timer per request). */
export interface BodyGuards {
  guard(source: NodeJS.ReadableStream & { on(e: 'error' | 'aborted', fn: (err?: Error) => void): unknown }, limits: BodyLimits): Transform;
  readonly active: number;
  close(): void;
}

/** Creates the guard factory; the ticker runs only while some body is streaming. */
export function createBodyGuards(clock: Clock, tickMs = 250): BodyGuards {
  const active = new Set<BodyGuard>();
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = clock.now();
    for (const g of active) {
      const code = bodyViolation(g, now, g.limits);
      if (code) g.destroy(new RempartError(code, code === 'RMP_ERR_BODY_TOO_SLOW' ? 'request body below the minimum rate' : 'request body stalled'));
    }
    if (active.size === 0 && timer) { clearInterval(timer); timer = undefined; }
  };
  const done = (g: BodyGuard): void => { active.delete(g); };
  return {
    guard(source, limits) {
      const g = new BodyGuard(clock, limits, done);
      active.add(g);
      if (!timer) { timer = setInterval(tick, tickMs); timer.unref(); }
      source.on('error', (err) => g.destroy(err ?? new Error('client request errored')));
      source.on('aborted', () => g.destroy(new Error('client aborted the request')));
      source.pipe(g);
      return g;
    },
    get active() { return active.size; },
    close() { if (timer) clearInterval(timer); timer = undefined; },
  };
}
