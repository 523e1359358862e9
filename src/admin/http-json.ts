import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';

/** SHA-256 of a string: hashing both sides first gives timingSafeEqual equal lengths. */
export const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Answers JSON, never cached (admin and console answers are live state). */
export function json(res: ServerResponse, status: number, value: unknown, extra: Record<string, string | string[]> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}

/** Reads a small JSON body (an empty one is `{}`); throws past `limit` bytes or on invalid JSON. */
export async function readJson(req: IncomingMessage, limit = 16 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}
