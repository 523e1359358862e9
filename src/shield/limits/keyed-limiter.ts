import { gcraStep, type GcraParams, type GcraResult } from './gcra.js';

/** Per-key GCRA state in bounded memory. */
export interface KeyedLimiter {
  /** Decides one arrival for `key` at the clock's current time and records it if allowed. */
  check(key: string, params: GcraParams): GcraResult;
  /** Keys currently tracked. */
  readonly size: number;
  /** Keys dropped while still ahead of schedule because maxKeys was reached (they restart fresh). */
  readonly evictedActive: number;
}

/** Options of createKeyedLimiter. */
export interface KeyedLimiterOptions {
  readonly maxKeys: number;
  readonly clock: { now(): number };
}

// Entries examined per insertion into a full map: keeps each check O(1).
const SCAN_BUDGET = 16;

/** One key's TAT, linked in admission order (least recently admitted first). */
interface Entry {
  readonly key: string;
  tat: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * Creates a limiter holding one TAT per key, at most `maxKeys` of them. A key whose TAT is not
 * after now is indistinguishable from an unseen key, so such keys are forgotten first at no cost
 * in accuracy; only when none is found among the least recently admitted entries is the least
 * recently admitted one dropped.
 * @example
 * const limiter = createKeyedLimiter({ maxKeys: 200_000, clock: systemClock });
 * const r = limiter.check(`${client} ${routeClass}`, { ratePerS: 20, burst: 40 });
 */
export function createKeyedLimiter(options: KeyedLimiterOptions): KeyedLimiter {
  const { maxKeys, clock } = options;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  // Admission order is a linked list through the entries, so re-admitting a key moves two
  // pointers. Keeping the order in the Map itself (delete, then set again) left a deleted entry in
  // the key's hash chain each time, walked by every later lookup until the Map was rebuilt: in a
  // Map of 100,000 keys one busy key's check grew to ~0.2 ms.
  const entries = new Map<string, Entry>();
  let head: Entry | undefined; // least recently admitted
  let tail: Entry | undefined; // most recently admitted
  let evictedActive = 0;

  const unlink = (e: Entry): void => {
    if (e.prev) e.prev.next = e.next; else head = e.next;
    if (e.next) e.next.prev = e.prev; else tail = e.prev;
    e.prev = e.next = undefined;
  };
  const append = (e: Entry): void => {
    e.prev = tail;
    if (tail) tail.next = e; else head = e;
    tail = e;
  };
  const remove = (e: Entry): void => {
    unlink(e);
    entries.delete(e.key);
  };

  const makeRoom = (now: number): void => {
    let e = head;
    for (let examined = 0; e !== undefined && examined < SCAN_BUDGET; examined++) {
      const next = e.next;
      if (e.tat <= now) remove(e);
      e = next;
    }
    if (entries.size < maxKeys || head === undefined) return;
    remove(head);
    evictedActive++;
  };

  const check = (key: string, params: GcraParams): GcraResult => {
    const now = clock.now();
    const entry = entries.get(key);
    const result = gcraStep(entry?.tat, now, params);
    if (!result.allowed) return result;
    if (entry !== undefined) {
      entry.tat = result.tat;
      if (entry !== tail) { unlink(entry); append(entry); }
      return result;
    }
    if (entries.size >= maxKeys) makeRoom(now);
    const added: Entry = { key, tat: result.tat, prev: undefined, next: undefined };
    entries.set(key, added);
    append(added);
    return result;
  };

  return {
    check,
    get size() { return entries.size; },
    get evictedActive() { return evictedActive; },
  };
}
