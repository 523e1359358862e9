import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { createRecencyMap } from '../../core/recency-map.js';
import { MAX_VARIANTS, variantKey } from './vary.js';

/** A stored response. Times are ms on the shield's monotonic clock. */
export interface CachedResponse {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly storedAt: number;
  readonly freshUntil: number;
  readonly staleUntil: number;
  /** The request headers its `Vary` names (cache/vary.ts): stored as one variant of its key. Absent or empty: it does not vary. */
  readonly vary?: readonly string[];
}

/**
 * A response cache bounded in bytes, least recently used out first. Pure: callers pass `now`.
 * `key` is the request's cache key (cache/policy.ts); `request` its headers, which choose among the
 * variants of a key whose answers vary (cache/vary.ts).
 */
export interface CacheStore {
  /** A fresh entry, or undefined. */
  fresh(key: string, now: number, request?: IncomingHttpHeaders): CachedResponse | undefined;
  /** An entry past its freshness but still within its stale window (RFC 5861 stale-if-error). */
  stale(key: string, now: number, request?: IncomingHttpHeaders): CachedResponse | undefined;
  /**
   * Stores the answer to `request` under `key`: the key's only entry, or (`entry.vary`) one of its
   * variants, at most MAX_VARIANTS of them (the key's least recently used goes). An answer that varies by other
   * headers than the key's stored ones replaces them all, as does one that does not vary.
   */
  put(key: string, entry: CachedResponse, request?: IncomingHttpHeaders): void;
  readonly bytes: number;
  /** Entries held (each variant counts). */
  readonly size: number;
}

const overhead = (key: string): number => 256 + key.length * 2;
const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

/** The variants held of one key whose answers vary: by which headers, and under which full keys (least recently read first). */
interface Variants {
  readonly names: readonly string[];
  readonly keys: Set<string>;
}

/** Creates a store holding at most `maxBytes` (bodies plus a fixed per-entry overhead). */
export function createCacheStore(maxBytes: number): CacheStore {
  const map = createRecencyMap<CachedResponse>();
  // Keys whose answers vary: an entry's full key is its key and its variant (cache/vary.ts `variantKey`, which starts with a NUL no key holds).
  const varied = new Map<string, Variants>();
  let bytes = 0;
  const drop = (full: string, e: CachedResponse): void => {
    map.delete(full);
    bytes -= e.body.length + overhead(full);
    const cut = full.indexOf('\u0000');
    if (cut === -1) return;
    const key = full.slice(0, cut);
    const v = varied.get(key);
    if (v === undefined) return;
    v.keys.delete(full);
    if (v.keys.size === 0) varied.delete(key);
  };
  const dropAll = (key: string): void => {
    const plain = map.peek(key);
    if (plain) drop(key, plain);
    const v = varied.get(key);
    if (v === undefined) return;
    for (const full of [...v.keys]) drop(full, map.peek(full) as CachedResponse);
    varied.delete(key);
  };
  const fullKey = (key: string, request: IncomingHttpHeaders | undefined): string => {
    const v = varied.get(key);
    return v === undefined ? key : key + variantKey(v.names, request ?? NO_HEADERS);
  };
  // A variant read goes to the back of its key's list: the one a new variant pushes out is the key's
  // least recently used, never the one customers keep reading while a flood cycles through others.
  const used = (key: string, full: string): void => {
    if (full === key) return;
    const v = varied.get(key);
    if (v !== undefined && v.keys.delete(full)) v.keys.add(full);
  };
  return {
    fresh(key, now, request) {
      const full = fullKey(key, request);
      const e = map.peek(full);
      if (!e || now >= e.freshUntil) return undefined;
      map.use(full);
      used(key, full);
      return e;
    },
    stale(key, now, request) {
      const full = fullKey(key, request);
      const e = map.peek(full);
      if (!e) return undefined;
      if (now >= e.staleUntil) { drop(full, e); return undefined; }
      map.use(full);
      used(key, full);
      return e;
    },
    put(key, entry, request) {
      const names = entry.vary ?? [];
      const full = names.length === 0 ? key : key + variantKey(names, request ?? NO_HEADERS);
      const size = entry.body.length + overhead(full);
      if (size > maxBytes) return;
      const held = varied.get(key);
      if (names.length === 0 || held === undefined || held.names.join(',') !== names.join(',')) dropAll(key);
      else {
        const old = map.peek(full);
        if (old) drop(full, old);
        // A key's variants are bounded whatever its Vary names (a header of many values).
        for (const k of held.keys) { if (held.keys.size < MAX_VARIANTS) break; drop(k, map.peek(k) as CachedResponse); }
      }
      for (const [k, e] of map.fromOldest()) {
        if (bytes + size <= maxBytes) break;
        drop(k, e);
      }
      if (names.length > 0) {
        const v = varied.get(key) ?? { names, keys: new Set<string>() };
        varied.set(key, v);
        v.keys.add(full);
      }
      map.set(full, entry);
      bytes += size;
    },
    get bytes() { return bytes; },
    get size() { return map.size; },
  };
}
