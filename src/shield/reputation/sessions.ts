import { createHash } from 'node:crypto';

/**
 * Sessions the origin issued, as the shield saw them go by: the strongest standing a client can
 * have. A reputation proves a browser came by in normal times, a proof-of-work that it spent CPU,
 * the no-JavaScript cookie that it followed a redirect; a session cookie the origin set on a
 * successful answer (a login's 303) proves the client authenticated to the application — what a
 * flood of made-up credentials cannot get, during an attack or before it. The shield cannot check
 * a session itself (it is the application's), and a cookie *name* proves nothing (anyone can send
 * `sid=x`); a *value* it saw the origin set does.
 *
 * Only digests are kept (a session value is a bearer credential: the shield's memory must not be
 * where one leaks from), at most `maxEntries` (the least recently seen go first) for at most
 * `maxAgeS` or the cookie's own lifetime, whichever is shorter. A session the origin clears
 * (empty value, `Max-Age=0`, an `Expires` in the past — RFC 6265 §5.3) is forgotten, as is one
 * whose holder floods with it (the caller's per-token limit). Kept across a restart when the
 * shield has a database (reputation/session-store.ts reads `takeChanges`); not shared between
 * processes: a session another shield saw issued is not known here, and its holder falls back to
 * the standing of its other cookies.
 *
 * Pure but for the digest: the caller passes `now` (ms).
 */
export interface SessionTable {
  /** The origin set session cookie `value`, valid `lifetimeS` (its Max-Age or Expires; absent: a browser session). */
  learn(value: string, now: number, lifetimeS?: number): void;
  /** Forgets the session `value` (cleared by the origin, or revoked). */
  forget(value: string): void;
  /** The digest of `value` when it is a known, unexpired session (the identity its requests count under). */
  known(value: string, now: number): string | undefined;
  /** Forgets the session whose digest is `key` (its holder flooded with it). */
  revoke(key: string): void;
  readonly size: number;
  /**
   * What changed since the last call, to keep across a restart: the record of a session learned or
   * still in use (its expiry moved on by `saveSlackMs` or more since last taken), the key alone of
   * one forgotten, revoked or expired.
   */
  takeChanges(): SessionChange[];
  /** Sessions kept before a restart; expired ones are skipped, and past `maxEntries` the soonest to expire. Returns how many it took. */
  restore(records: readonly SessionRecord[], now: number): number;
}

/** A remembered session as kept across a restart (`hardExpires` Infinity: the cookie names no lifetime). */
export interface SessionRecord { readonly key: string; readonly expires: number; readonly hardExpires: number }
export type SessionChange = SessionRecord | { readonly key: string; readonly gone: true };

export interface SessionTableParams {
  /** Sessions remembered at most; past it the least recently seen are forgotten. */
  readonly maxEntries: number;
  /** Longest a session is trusted after it was set or last seen, s (and never past its own lifetime). */
  readonly maxAgeS: number;
  /**
   * Keep the changes `takeChanges` returns (a store reads them). Off, nothing is journaled: with no
   * reader, the journal would grow with every session ever learned.
   */
  readonly journal?: boolean;
}

/** 128 bits of SHA-256: a key, not the credential. */
export const sessionDigest = (value: string): string => createHash('sha256').update(value).digest('base64url').slice(0, 22);

export function createSessionTable(params: SessionTableParams): SessionTable {
  // Map order is insertion order: refreshed entries are re-inserted, so the first is the least recently seen.
  const entries = new Map<string, { expires: number; hardExpires: number; takenExpires: number }>();
  const maxAgeMs = params.maxAgeS * 1000;
  // Keys changed since takeChanges last ran. A session in use moves its expiry on at every request;
  // it is taken again only once that moved `slackMs` (a restart may then forget it that much sooner).
  const changed = new Set<string>();
  const note = params.journal === true ? (key: string): void => { changed.add(key); } : (): void => {};
  const slackMs = Math.min(maxAgeMs / 10, 300_000);
  const remove = (key: string): void => { if (entries.delete(key)) note(key); };
  const insert = (key: string, expires: number, hardExpires: number, takenExpires: number): void => {
    entries.delete(key);
    entries.set(key, { expires, hardExpires, takenExpires });
    if (entries.size > params.maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) remove(oldest);
    }
  };
  return {
    learn(value, now, lifetimeS) {
      if (value.length === 0) return;
      const key = sessionDigest(value);
      const hard = lifetimeS === undefined ? Infinity : now + Math.max(0, lifetimeS) * 1000;
      if (hard <= now) { remove(key); return; }
      insert(key, Math.min(hard, now + maxAgeMs), hard, -Infinity);
      note(key);
    },
    forget(value) { remove(sessionDigest(value)); },
    known(value, now) {
      if (value.length === 0 || entries.size === 0) return undefined;
      const key = sessionDigest(value);
      const e = entries.get(key);
      if (e === undefined) return undefined;
      if (e.expires <= now) { remove(key); return undefined; }
      // In use: trusted for another maxAgeS (never past the cookie's own lifetime), and most recently seen.
      e.expires = Math.min(e.hardExpires, now + maxAgeMs);
      if (e.expires - e.takenExpires >= slackMs) note(key);
      entries.delete(key);
      entries.set(key, e);
      return key;
    },
    revoke(key) { remove(key); },
    get size() { return entries.size; },
    takeChanges() {
      const out: SessionChange[] = [];
      for (const key of changed) {
        const e = entries.get(key);
        if (e === undefined) { out.push({ key, gone: true }); continue; }
        e.takenExpires = e.expires;
        out.push({ key, expires: e.expires, hardExpires: e.hardExpires });
      }
      changed.clear();
      return out;
    },
    restore(records, now) {
      // Soonest to expire first: the order they were last seen in, as near as the records tell.
      const live = records.filter((r) => r.expires > now && r.hardExpires > now && r.key.length > 0).sort((a, b) => a.expires - b.expires);
      let taken = 0;
      for (const r of live.slice(-params.maxEntries)) {
        if (entries.has(r.key)) continue; // one this process already saw is newer
        // Never trusted longer than this shield's own maxAgeS from now, whatever was saved.
        const expires = Math.min(r.expires, r.hardExpires, now + maxAgeMs);
        insert(r.key, expires, r.hardExpires, expires);
        taken++;
      }
      return taken;
    },
  };
}

/** What a Set-Cookie line does to a session cookie named in `names` (RFC 6265 §5.2), if it names one. */
export type SessionCookieChange = { readonly name: string; readonly value: string; readonly lifetimeS?: number; readonly cleared: boolean };

/**
 * Reads one Set-Cookie header value: the cookie's name and value, and whether it sets or clears it
 * (`Max-Age` wins over `Expires`, RFC 6265 §5.3 step 3). Undefined when it names none of `names`.
 */
export function sessionCookieChange(line: string, names: readonly string[], nowMs: number): SessionCookieChange | undefined {
  const semi = line.indexOf(';');
  const pair = semi === -1 ? line : line.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  if (!names.includes(name)) return undefined;
  const value = pair.slice(eq + 1).trim();
  let maxAge: number | undefined;
  let expires: number | undefined;
  if (semi !== -1) {
    for (const attr of line.slice(semi + 1).split(';')) {
      const aeq = attr.indexOf('=');
      const key = (aeq === -1 ? attr : attr.slice(0, aeq)).trim().toLowerCase();
      const v = aeq === -1 ? '' : attr.slice(aeq + 1).trim();
      if (key === 'max-age' && /^-?\d+$/.test(v)) maxAge = Number(v);
      else if (key === 'expires') { const t = Date.parse(v); if (Number.isFinite(t)) expires = t; }
    }
  }
  const lifetimeS = maxAge !== undefined ? maxAge : expires !== undefined ? (expires - nowMs) / 1000 : undefined;
  const cleared = value.length === 0 || (lifetimeS !== undefined && lifetimeS <= 0);
  return { name, value, cleared, ...(lifetimeS !== undefined && !cleared ? { lifetimeS } : {}) };
}
