/** Same-origin calls to the admin listener; state-changing ones echo the session's CSRF token. */
let csrf = '';

export function setCsrf(token: string): void { csrf = token; }

export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  const body = text ? JSON.parse(text) as { error?: string } : {};
  if (!res.ok) throw new HttpError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

export async function get<T>(path: string): Promise<T> {
  return await parse(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } })) as T;
}

export async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method, credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return await parse(res) as T;
}

export interface Session { who: string; csrf: string | null; via: string; dryRun: boolean }

export const fmtAgo = (s: number): string => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`);
export const fmtTime = (ms: number): string => new Date(ms).toLocaleString(undefined, { hour12: false });
