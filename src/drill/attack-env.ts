import type { BrowserIdentity } from './headers.js';
import type { Rng } from './rng.js';

/** What every attack generator gets from the run: its sources, identities, randomness and time. */
export interface AttackEnv {
  /** Source addresses (one per attacking client; undefined = the kernel's choice). */
  addresses: (string | undefined)[];
  identities: BrowserIdentity[];
  rng: Rng;
  /** ms since the run started. */
  now(): number;
  seconds: number;
  signal: AbortSignal;
}
