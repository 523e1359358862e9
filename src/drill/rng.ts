import type { Rng } from '../core/rng.js';

export { createRng, type Rng } from '../core/rng.js';

/** A random token of `len` characters from [a-z0-9], as bots put in query strings. */
export function randomToken(rng: Rng, len: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < len; i++) out += alphabet[Math.floor(rng.next() * alphabet.length)];
  return out;
}

/** A parcel number shaped like a real one (two characters then 11 digits); users and bots alike. */
export function parcelId(rng: Rng): string {
  const letters = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
  let id = letters[Math.floor(rng.next() * letters.length)]! + letters[Math.floor(rng.next() * letters.length)]!;
  for (let i = 0; i < 11; i++) id += String(Math.floor(rng.next() * 10));
  return id;
}
