import { closeSync, mkdirSync, openSync, read, rmSync, unlink, write } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ServerResponse } from 'node:http';

/** Read-ahead limits: memory first, then a temporary file, each per response and in total. */
export interface ResponseBufferLimits {
  memoryBytes: number;
  memoryBudgetBytes: number;
  spoolBytes: number;
  spoolBudgetBytes: number;
}

/** Where one upstream response goes: the client, as fast as it reads, with the rest held for it. */
export interface ResponseSink {
  /** One upstream chunk; false means: pause the upstream until `onResume` is called. */
  write(chunk: Buffer): boolean;
  /**
   * The chunk just written straight to the client met backpressure (the sink is opened lazily, on
   * the first such chunk): same answer as `write`.
   */
  backpressured(): boolean;
  /** The upstream finished: the client response ends once everything held is delivered. */
  end(): void;
  onResume: (() => void) | undefined;
  /** When the upstream was paused for this client (ms, monotonic), or undefined while it flows. */
  readonly pausedSince: number | undefined;
  /** Frees memory and the spool file (exchange over, however it ended). */
  dispose(): void;
}

/** The process's response read-ahead: opens one sink per proxied response. */
export interface ResponseSinks {
  open(res: ServerResponse): ResponseSink;
  readonly memoryBytes: number;
  readonly spoolBytes: number;
  readonly spoolFiles: number;
  close(): void;
}

const READ_CHUNK = 64 * 1024;

/**
 * nginx's proxy_buffering, memory then disk: an upstream response is read at the upstream's pace
 * into the client socket's buffer up to `memoryBytes`, then into a temporary file up to
 * `spoolBytes`, so its connection (an admission slot) is released as soon as the upstream is done,
 * however slowly the client reads (slow read). Past both, or past the process budgets, the upstream
 * is paused until the client catches up — backpressure, and the forwarder may evict a stalled
 * client that holds a slot others wait for.
 */
export function createResponseSinks(limits: ResponseBufferLimits, now: () => number, spoolDir?: string): ResponseSinks {
  // A private directory inside the configured one: removing it at shutdown never touches the operator's.
  const dir = join(spoolDir ?? tmpdir(), `rempart-resp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let dirReady = false;
  let memory = 0;
  let spool = 0;
  let files = 0;
  let seq = 0;

  const open = (res: ServerResponse): ResponseSink => {
    let held = 0; // bytes of res's buffer counted in `memory`
    let mode: 'direct' | 'spool' = 'direct';
    let fd = -1;
    let path = '';
    let size = 0; // bytes appended to the file
    let flushed = 0; // bytes whose write completed
    let sent = 0; // bytes read back and handed to the client
    let writing = false;
    const queue: Buffer[] = [];
    let pumping = false;
    let waitingDrain = false;
    let ended = false;
    let catchUp = false; // upstream paused until the file is delivered
    let pausedSince: number | undefined;
    let disposed = false;

    const account = (): void => {
      const now = res.writableLength;
      memory += now - held;
      held = now;
    };
    const resume = (): void => {
      if (pausedSince === undefined) return;
      pausedSince = undefined;
      self.onResume?.();
    };
    const closeFile = (): void => {
      if (fd < 0) return;
      try { closeSync(fd); } catch { /* already closed */ }
      unlink(path, () => { /* gone is fine */ });
      fd = -1;
      spool -= size;
      files--;
      size = flushed = sent = 0;
    };
    const finishIfDone = (): void => {
      if (sent < size || writing || queue.length > 0) return;
      closeFile();
      mode = 'direct';
      if (ended) { if (!res.destroyed) res.end(); return; }
      if (catchUp) { catchUp = false; resume(); }
    };
    const pump = (): void => {
      if (pumping || waitingDrain || disposed || res.destroyed) return;
      if (sent >= flushed) { finishIfDone(); return; }
      pumping = true;
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, flushed - sent));
      read(fd, buf, 0, buf.length, sent, (err, n) => {
        pumping = false;
        if (disposed || res.destroyed) return;
        if (err || n === 0) { res.destroy(err ?? new Error('spool read came short')); return; }
        sent += n;
        if (!res.write(n === buf.length ? buf : buf.subarray(0, n))) {
          waitingDrain = true;
          res.once('drain', () => { waitingDrain = false; pump(); });
          return;
        }
        pump();
      });
    };
    const flush = (): void => {
      if (writing || disposed) return;
      const chunk = queue.shift();
      if (!chunk) { pump(); return; }
      writing = true;
      write(fd, chunk, 0, chunk.length, flushed, (err) => {
        writing = false;
        if (disposed) return;
        if (err) { res.destroy(err); return; }
        flushed += chunk.length;
        flush();
      });
    };
    const startSpool = (): void => {
      if (!dirReady) { mkdirSync(dir, { recursive: true, mode: 0o700 }); dirReady = true; }
      path = join(dir, `${++seq}`);
      fd = openSync(path, 'w+', 0o600);
      files++;
      mode = 'spool';
    };

    /** After a write to the client's buffer: keep reading the upstream, or pause it. */
    const afterDirectWrite = (ok: boolean): boolean => {
      account();
      if (ok || (held <= limits.memoryBytes && memory <= limits.memoryBudgetBytes)) return true;
      if (limits.spoolBytes > 0 && spool < limits.spoolBudgetBytes) {
        // Later chunks go to the file (in order) while the client drains what it already has.
        startSpool();
        res.once('drain', () => { held = 0; account(); pump(); });
        return true;
      }
      pausedSince = now();
      res.once('drain', () => { account(); resume(); });
      return false;
    };

    const self: ResponseSink = {
      onResume: undefined,
      get pausedSince() { return pausedSince; },
      backpressured() { return afterDirectWrite(false); },
      write(chunk) {
        if (mode === 'direct') return afterDirectWrite(res.write(chunk));
        queue.push(chunk);
        size += chunk.length;
        spool += chunk.length;
        flush();
        if (size < limits.spoolBytes && spool < limits.spoolBudgetBytes) return true;
        catchUp = true;
        pausedSince = now();
        return false;
      },
      end() {
        ended = true;
        if (mode === 'direct') { if (!res.destroyed) res.end(); return; }
        finishIfDone();
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        memory -= held;
        held = 0;
        closeFile();
      },
    };
    return self;
  };

  return {
    open,
    get memoryBytes() { return memory; },
    get spoolBytes() { return spool; },
    get spoolFiles() { return files; },
    close() { if (dirReady) rmSync(dir, { recursive: true, force: true }); },
  };
}
