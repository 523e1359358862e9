/**
 * Values computed once per key within one tick (a second of a token's clock, say) and forgotten
 * as a whole when the tick changes: for answers that are a pure function of the key and the tick,
 * asked many times a tick by a flood. Bounded: past `maxEntries` a value is computed and not kept.
 */
export interface TickMemo<V> {
  /** The value for `key` at `tick`, from the memo or from `compute` (kept while there is room). */
  get(tick: number, key: string, compute: () => V): V;
  /** Values kept for the current tick. */
  readonly size: number;
}

/**
 * @example
 * const tokens = createTickMemo<string>(20_000);
 * const token = tokens.get(iatSeconds, `${address}\n${agent}`, () => signToken(claims, keys));
 */
export function createTickMemo<V>(maxEntries: number): TickMemo<V> {
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries must be an integer >= 0, got ${maxEntries}`);
  let current = Number.NaN;
  const values = new Map<string, V>();
  return {
    get(tick, key, compute) {
      if (tick !== current) { values.clear(); current = tick; }
      const known = values.get(key);
      if (known !== undefined) return known;
      const v = compute();
      if (values.size < maxEntries) values.set(key, v);
      return v;
    },
    get size() { return values.size; },
  };
}
