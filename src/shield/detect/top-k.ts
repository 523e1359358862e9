/**
 * Top-k keys by an external estimate (a count-min sketch's), the "sketch + heap" heavy-hitter
 * scheme (Charikar, Chen & Farach-Colton 2002; Cormode & Muthukrishnan 2005 §5): the sketch counts
 * every key, the heap keeps only those whose estimate beats the smallest kept one. Unlike
 * Space-Saving, a one-off key costs one comparison and no Map churn — the case of a flood from a
 * million distinct addresses. Counts are the sketch's upper bounds; any key not kept had an
 * estimate ≤ `floor` when last offered.
 */

/** Keys with the largest estimates offered so far. */
export interface TopK {
  /** Offers a key with its current estimate (which only grows while the sketch is not reset). */
  offer(key: string, estimate: number): void;
  has(key: string): boolean;
  /** The smallest kept estimate when full, else 0. */
  readonly floor: number;
  readonly size: number;
  reset(): void;
  forEach(visit: (key: string, count: number) => void): void;
}

/** A top-k keeper of at most `capacity` keys; O(1) for a key that does not qualify. */
export function createTopK(capacity: number): TopK {
  if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  const keys: (string | undefined)[] = new Array(capacity).fill(undefined);
  const counts = new Float64Array(capacity);
  const heap = new Int32Array(capacity);
  const pos = new Int32Array(capacity);
  const index = new Map<string, number>();
  let size = 0;

  const less = (i: number, j: number): boolean => (counts[heap[i] as number] as number) < (counts[heap[j] as number] as number);
  const swap = (i: number, j: number): void => {
    const a = heap[i] as number, b = heap[j] as number;
    heap[i] = b; heap[j] = a; pos[b] = i; pos[a] = j;
  };
  const up = (i: number): void => {
    while (i > 0) { const p = (i - 1) >> 1; if (!less(i, p)) return; swap(i, p); i = p; }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const m = l + 1 < size && less(l + 1, l) ? l + 1 : l;
      if (!less(m, i)) return;
      swap(i, m);
      i = m;
    }
  };

  return {
    offer(key, estimate) {
      // Cheap reject: a kept key's stored count is ≥ the floor ≥ this estimate, nothing to refresh.
      if (size === capacity && estimate <= (counts[heap[0] as number] as number)) return;
      const slot = index.get(key);
      if (slot !== undefined) {
        if (estimate > (counts[slot] as number)) { counts[slot] = estimate; down(pos[slot] as number); }
        return;
      }
      if (size < capacity) {
        const s = size++;
        keys[s] = key; counts[s] = estimate; heap[s] = s; pos[s] = s;
        index.set(key, s);
        up(s);
        return;
      }
      const s = heap[0] as number;
      index.delete(keys[s] as string);
      keys[s] = key; counts[s] = estimate;
      index.set(key, s);
      down(0);
    },
    has: (key) => index.has(key),
    get floor() { return size < capacity ? 0 : (counts[heap[0] as number] as number); },
    get size() { return size; },
    reset() { index.clear(); keys.fill(undefined); size = 0; },
    forEach(visit) { for (let i = 0; i < size; i++) visit(keys[i] as string, counts[i] as number); },
  };
}
