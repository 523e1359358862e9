import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readBodyText } from '../core/read-body.js';

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
  return JSON.parse((await readBodyText(req, limit, () => new Error('body too large'))) || '{}');
}
