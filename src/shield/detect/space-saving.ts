/**
 * Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi, "Efficient Computation of Frequent and
 * Top-k Elements in Data Streams", ICDT 2005) over a min-heap, so weighted adds and decay work:
 * `capacity` counters; an unmonitored key evicts the smallest and inherits its count as error.
 * Guarantee for every monitored key: count − error ≤ true count ≤ count; any unmonitored key's
 * true count is ≤ the smallest count (0 while not full).
 */

/** One monitored key: `count` over-estimates, `count - error` under-estimates the true weight. */
export interface HeavyHitter {
  readonly key: string;
  readonly count: number;
  readonly error: number;
}

/** A bounded summary of the heaviest keys of a stream. */
export interface SpaceSaving {
  add(key: string, weight?: number): void;
  /** The `n` heaviest monitored keys, heaviest first. */
  top(n: number): HeavyHitter[];
  /** An upper bound of the key's weight: its count if monitored, else the smallest count. */
  estimate(key: string): number;
  /** The key's counter, or undefined when it is not monitored. */
  get(key: string): HeavyHitter | undefined;
  has(key: string): boolean;
  /** The smallest monitored count when full (the bound for every unmonitored key), else 0. */
  readonly floor: number;
  /** Total weight added (decayed with the counters). */
  readonly total: number;
  readonly size: number;
  readonly capacity: number;
  reset(): void;
  /** Multiplies every count, error and the total by `factor` in [0, 1] (an exponential window). */
  decay(factor: number): void;
  /** Visits every monitored counter, in no particular order. */
  forEach(visit: (key: string, count: number, error: number) => void): void;
}

/**
 * A Space-Saving summary of at most `capacity` keys: O(log capacity) per add.
 * @example
 * const ss = createSpaceSaving(1024); ss.add('203.0.113.0/24'); ss.top(10);
 */
export function createSpaceSaving(capacity: number): SpaceSaving {
  if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  // heap[i] is a slot; slots hold key, count and error; pos[slot] is the slot's heap index.
  const keys: (string | undefined)[] = new Array(capacity).fill(undefined);
  const counts = new Float64Array(capacity);
  const errors = new Float64Array(capacity);
  const heap = new Int32Array(capacity);
  const pos = new Int32Array(capacity);
  const index = new Map<string, number>();
  let size = 0;
  let total = 0;

  const swap = (i: number, j: number): void => {
    const a = heap[i] as number, b = heap[j] as number;
    heap[i] = b; heap[j] = a; pos[b] = i; pos[a] = j;
  };
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((counts[heap[parent] as number] as number) <= (counts[heap[i] as number] as number)) return;
      swap(i, parent);
      i = parent;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const r = l + 1;
      let m = l;
      if (r < size && (counts[heap[r] as number] as number) < (counts[heap[l] as number] as number)) m = r;
      if ((counts[heap[i] as number] as number) <= (counts[heap[m] as number] as number)) return;
      swap(i, m);
      i = m;
    }
  };
  const minCount = (): number => (size < capacity ? 0 : (counts[heap[0] as number] as number));

  return {
    add(key, weight = 1) {
      if (!(weight > 0)) return;
      total += weight;
      const slot = index.get(key);
      if (slot !== undefined) {
        counts[slot] = (counts[slot] as number) + weight;
        down(pos[slot] as number);
        return;
      }
      if (size < capacity) {
        const s = size++;
        keys[s] = key; counts[s] = weight; errors[s] = 0;
        heap[s] = s; pos[s] = s;
        index.set(key, s);
        up(s);
        return;
      }
      // Replace the minimum: the newcomer may have been seen up to `min` times while unmonitored.
      const s = heap[0] as number;
      index.delete(keys[s] as string);
      const min = counts[s] as number;
      keys[s] = key; errors[s] = min; counts[s] = min + weight;
      index.set(key, s);
      down(0);
    },
    top(n) {
      const slots: number[] = [];
      for (let i = 0; i < size; i++) slots.push(heap[i] as number);
      slots.sort((a, b) => (counts[b] as number) - (counts[a] as number));
      return slots.slice(0, Math.max(0, n)).map((s) => ({ key: keys[s] as string, count: counts[s] as number, error: errors[s] as number }));
    },
    estimate(key) {
      const slot = index.get(key);
      return slot === undefined ? minCount() : (counts[slot] as number);
    },
    get(key) {
      const slot = index.get(key);
      return slot === undefined ? undefined : { key, count: counts[slot] as number, error: errors[slot] as number };
    },
    has: (key) => index.has(key),
    get floor() { return minCount(); },
    get total() { return total; },
    get size() { return size; },
    capacity,
    reset() {
      index.clear();
      keys.fill(undefined);
      size = 0;
      total = 0;
    },
    decay(factor) {
      if (!(factor >= 0 && factor <= 1)) throw new RangeError(`decay factor must be in [0, 1], got ${factor}`);
      // Scaling every counter by one factor keeps the heap order, so no re-heapify.
      for (let i = 0; i < size; i++) { counts[i] = (counts[i] as number) * factor; errors[i] = (errors[i] as number) * factor; }
      total *= factor;
    },
    forEach(visit) {
      for (let i = 0; i < size; i++) visit(keys[i] as string, counts[i] as number, errors[i] as number);
    },
  };
}
