/**
 * FNV-1a hashing (Fowler–Noll–Vo, draft-eastlake-fnv) without bigint: 32-bit with Math.imul, 64-bit
 * as four 16-bit limbs; and murmur3's finalizer. Non-cryptographic: for bucketing and ids, never
 * for secrets.
 */

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** FNV-1a 32 over the UTF-16 code units of `text`, seeded by xoring the offset basis. */
export function fnv1a32(text: string, seed = 0): number {
  let h = (FNV32_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV32_PRIME);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer (fmix32): spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Running FNV-1a 64 state; `feed` one code unit at a time, `hex` the top bits. */
export interface Fnv64 {
  reset(): void;
  feed(code: number): void;
  feedString(text: string): void;
  /** The top `chars * 4` bits as lower-case hex (1-16 chars). */
  hex(chars: number): string;
}

/** A reusable FNV-1a 64 hasher (offset 0xcbf29ce484222325, prime 2^40 + 0x1b3). */
export function createFnv64(): Fnv64 {
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  const feed = (code: number): void => {
    h0 ^= code & 0xffff; // one UTF-16 unit; identical to the byte-wise FNV for ASCII
    // Multiply by 2^40 + 435: the 435 part limb by limb, the 2^40 part shifts limbs 0-1 into 2-3.
    const t0 = h0 * 435;
    let t1 = h1 * 435;
    let t2 = h2 * 435;
    let t3 = h3 * 435;
    t2 += h0 << 8;
    t3 += h1 << 8;
    t1 += t0 >>> 16;
    h0 = t0 & 0xffff;
    t2 += t1 >>> 16;
    h1 = t1 & 0xffff;
    h3 = (t3 + (t2 >>> 16)) & 0xffff;
    h2 = t2 & 0xffff;
  };
  return {
    reset: () => { h0 = 0x2325; h1 = 0x8422; h2 = 0x9ce4; h3 = 0xcbf2; },
    feed,
    feedString: (text) => { for (let i = 0; i < text.length; i++) feed(text.charCodeAt(i)); },
    hex: (chars) => {
      const full = hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
      return full.slice(0, Math.max(1, Math.min(16, chars)));
    },
  };
}

function hex4(limb: number): string {
  return limb.toString(16).padStart(4, '0');
}

/** FNV-1a 64 of a whole string as 16 hex characters. */
export function fnv1a64Hex(text: string): string {
  const h = createFnv64();
  h.feedString(text);
  return h.hex(16);
}
