/**
 * Cookie reading and writing for the shield's own cookies (RFC 6265): no full parser on the hot
 * path, only a scan for the few names the shield owns.
 */

/** The shield's cookie names: reputation, no-JavaScript check, clearance, page visits (defence/visit-cookie.ts). */
export const COOKIE_NAMES = { rep: 'rempart_rep', nojs: 'rempart_nojs', clr: 'rempart_clr', pv: 'rempart_pv' } as const;

/** The value of cookie `name` in a Cookie request header, or undefined (first occurrence wins, RFC 6265 §5.4). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    const eq = at + name.length;
    const startsPair = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    if (startsPair && header[eq] === '=') {
      const end = header.indexOf(';', eq + 1);
      return header.slice(eq + 1, end < 0 ? header.length : end).trim();
    }
    from = at + 1;
  }
  return undefined;
}

/** Attributes of a Set-Cookie line. */
export interface CookieOptions {
  /** Absent: a session cookie (kept until the browser's session ends, RFC 6265 §5.3). */
  readonly maxAgeS?: number;
  /** Only over https: a Secure cookie set over http is dropped by browsers (RFC 6265bis §5.6). */
  readonly secure: boolean;
  readonly httpOnly?: boolean;
}

/** A Set-Cookie value: Path=/, SameSite=Lax, HttpOnly unless told otherwise, Secure when the request was https. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  const age = opts.maxAgeS === undefined ? '' : `; Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`;
  return `${name}=${value}; Path=/${age}${opts.httpOnly === false ? '' : '; HttpOnly'}; SameSite=Lax${opts.secure ? '; Secure' : ''}`;
}

/**
 * True when the Cookie header carries one of `names` with a non-empty value: the caller's way to
 * exempt critical routes used with an authenticated session (the session itself is checked by the
 * origin; a forged session cookie only buys the origin's own authentication check).
 * @example
 * const exempt = route.class === 'critical' && hasSessionCookie(req.headers.cookie, ['sid']);
 */
export function hasSessionCookie(header: string | undefined, names: readonly string[]): boolean {
  for (const n of names) if (readCookie(header, n)) return true;
  return false;
}
