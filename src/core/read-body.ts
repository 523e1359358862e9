import type { IncomingMessage } from 'node:http';

/**
 * Reads a small request body whole as UTF-8 text, refusing it past `limit` bytes: the error
 * `tooLarge` returns is thrown as soon as the limit is crossed, before the rest is buffered.
 */
export async function readBodyText(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
