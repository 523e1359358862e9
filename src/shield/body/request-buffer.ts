import { createReadStream, createWriteStream, mkdirSync, rmSync, unlink, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { BodyGuards, BodyLimits } from '../body-guard.js';
import { RempartError } from '../../core/errors.js';

/**
 * A request body read completely before the request asks for an upstream slot, as nginx does with
 * `proxy_request_buffering on`: a client that trickles its body (slow POST) holds a socket of
 * ours, never one of the upstream's connections.
 */
export interface BufferedBody {
  readonly size: number;
  /** Whether the body went to a temporary file (larger than the in-memory share). */
  readonly spooled: boolean;
  /** A fresh source for one upstream attempt (a Buffer, or a stream over the spooled file). */
  source(): Buffer | Readable;
  /** Frees the memory or removes the file; idempotent. */
  dispose(): void;
}

/** Per-request buffering limits (the body guard's rules apply while reading). */
export interface BufferingLimits extends BodyLimits {
  /** Bytes of one body kept in memory; beyond them the body is spooled to a temporary file. */
  memoryBytes: number;
}

/** Reads request bodies under a global memory budget. */
export interface BodyBuffers {
  read(req: IncomingMessage, limits: BufferingLimits): Promise<BufferedBody>;
  /** Bytes of bodies held in memory now. */
  readonly memoryBytes: number;
  /** Spooled files that exist now. */
  readonly spooledFiles: number;
  /** Bytes in spooled files now (bounded by the spool budget). */
  readonly spooledBytes: number;
  /** Removes the spool directory (at shutdown). */
  close(): void;
}

/**
 * Creates the body reader. `memoryBudgetBytes` bounds memory over all requests: once it is spent,
 * new bodies go to disk from their first byte, so a flood of large POSTs cannot exhaust memory.
 * `spoolBudgetBytes` bounds that disk (0: never spool): a body that would pass it is refused
 * (RMP_ERR_BODY_STORAGE, 503), so the same flood cannot fill the disk either — nginx's
 * client_body_temp_path has no such bound. Absent: unbounded (unit use only).
 */
export function createBodyBuffers(guards: BodyGuards, opts: { memoryBudgetBytes: number; spoolBudgetBytes?: number; spoolDir?: string }): BodyBuffers {
  // A private directory inside the configured one: removing it at shutdown never touches the operator's.
  const dir = join(opts.spoolDir ?? tmpdir(), `rempart-req-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let dirReady = false;
  let inMemory = 0;
  let files = 0;
  let onDisk = 0;
  let seq = 0;
  const spoolBudget = opts.spoolBudgetBytes ?? Infinity;
  const storageError = (why: string): RempartError => new RempartError('RMP_ERR_BODY_STORAGE', why);

  const read = (req: IncomingMessage, limits: BufferingLimits): Promise<BufferedBody> => new Promise((resolve, reject) => {
    const guarded = guards.guard(req, limits);
    let chunks: Buffer[] = [];
    let held = 0; // bytes of this body counted in inMemory
    let size = 0;
    let file: { path: string; ws: WriteStream; bytes: number } | undefined;
    let settled = false;

    const freeMemory = (): void => { inMemory -= held; held = 0; chunks = []; };
    const removeFile = (): void => {
      if (!file) return;
      const { path, ws, bytes } = file;
      file = undefined;
      ws.destroy();
      files--;
      onDisk -= bytes;
      unlink(path, () => { /* already gone is fine */ });
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      freeMemory();
      removeFile();
      reject(err);
    };
    const spill = (): void => {
      if (!dirReady) { mkdirSync(dir, { recursive: true, mode: 0o700 }); dirReady = true; }
      const path = join(dir, `${process.pid}-${++seq}`);
      const ws = createWriteStream(path, { mode: 0o600 });
      // A full or failing disk is ours, not the client's: 503, never a 400.
      ws.on('error', (e) => { guarded.destroy(); fail(storageError(`request body spool: ${e.message}`)); });
      file = { path, ws, bytes: 0 };
      files++;
      for (const c of chunks) toDisk(c);
      freeMemory();
    };
    const toDisk = (c: Buffer): boolean => {
      const f = file as { ws: WriteStream; bytes: number };
      f.bytes += c.length;
      onDisk += c.length;
      return f.ws.write(c);
    };

    guarded.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (!file && held + chunk.length <= limits.memoryBytes && inMemory + chunk.length <= opts.memoryBudgetBytes) {
        chunks.push(chunk);
        held += chunk.length;
        inMemory += chunk.length;
        return;
      }
      if (onDisk + (file ? 0 : held) + chunk.length > spoolBudget) {
        guarded.destroy();
        fail(storageError(spoolBudget === 0 ? 'request body larger than its memory share, and spooling is off' : `request body spool budget (${spoolBudget} bytes) spent`));
        return;
      }
      if (!file) spill();
      if (!toDisk(chunk)) {
        guarded.pause();
        (file as { ws: WriteStream }).ws.once('drain', () => guarded.resume());
      }
    });
    guarded.once('error', (err) => fail(err));
    guarded.once('end', () => {
      if (settled) return;
      const done = (body: BufferedBody): void => { settled = true; resolve(body); };
      if (!file) {
        const buf = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size);
        let counted = held;
        chunks = [];
        held = 0;
        done({
          size, spooled: false, source: () => buf,
          dispose: () => { inMemory -= counted; counted = 0; },
        });
        return;
      }
      const { path, ws } = file;
      ws.end(() => {
        if (settled) return;
        done({
          size, spooled: true,
          source: () => createReadStream(path),
          dispose: removeFile,
        });
      });
    });
  });

  return {
    read,
    get memoryBytes() { return inMemory; },
    get spooledFiles() { return files; },
    get spooledBytes() { return onDisk; },
    close() { if (dirReady) rmSync(dir, { recursive: true, force: true }); },
  };
}
