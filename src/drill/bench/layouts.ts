import type { AddressLayout } from '../addresses.js';

/**
 * Address layouts of `bench ddos`: how customers and attackers share the loopback address space.
 * Every layout draws addresses at random from the run's seed: no range tells a role apart.
 */
export const BENCH_LAYOUTS = {
  /** Attackers and customers anywhere in 127/8, never on the same address; 4 customers per address. */
  disjoint: { layout: 'disjoint', usersPerAddress: 4, doc: 'attackers and customers at random across 127/8 (disjoint addresses), 4 customers per address' },
  /**
   * Every attack address in a customer's /24. One customer per address, so the customers span as
   * many /24s as there are of them (28 /24s, room for ~7,000 attackers beside them).
   */
  'shared-24': { layout: 'shared-24', usersPerAddress: 1, doc: 'every attack address in the /24 of a customer (1 customer per address, attackers spread evenly over their /24s)' },
  /** 20 customers behind each carrier-NAT address; attackers elsewhere in 127/8. */
  cgnat: { layout: 'disjoint', usersPerAddress: 20, doc: '20 customers behind each carrier-NAT address, attackers at random across 127/8' },
  /**
   * The bots behind the customers' own carrier-NAT addresses (20 customers each), every bot sending
   * the User-Agent of a customer at its address: nothing in the address or the agent tells them
   * apart. (The origin cannot attribute requests to attack or customers here: they share addresses.)
   */
  'cgnat-shared': { layout: 'shared-address', usersPerAddress: 20, doc: '20 customers behind each carrier-NAT address, the bots behind the same addresses with the customers\' User-Agents' },
} as const satisfies Record<string, { layout: AddressLayout; usersPerAddress: number; doc: string }>;

export type BenchLayout = keyof typeof BENCH_LAYOUTS;

/**
 * The default rows of `bench ddos`: every attack the detection issue names, a CORS-preflight flood
 * (requests no challenge may answer), a flood that opens a connection per request, one that
 * pipelines many requests on few connections (also by bots that solve their challenge), connections
 * opened and closed without a request, a flood of large uploads, newcomers arriving during an
 * attack, from 200 bots or from a crowd of 2,000 at a person's pace each (browsing, or guessing
 * logins from the form they loaded), and a message flood inside WebSocket tunnels, also from bots
 * that browsed first, bots that log in to accounts of their own before they flood, and bots that
 * replay a few customers' sessions, and a crowd at a person's pace flooding the costliest search
 * and bots that loop one request at a time and never give up on it, and a crowd holding
 * reputations farmed the day before, and a crowd of 2,000 that browses first and then floods at
 * 2 req/s each, and event streams held open by the thousand (128 cells of 20 s with 4 targets: about 56 minutes).
 */
export const DEFAULT_BENCH_SCENARIOS = [
  'none', 'single-flood', 'distributed-low-rate', 'cache-buster', 'connection-churn', 'pipeline-flood', 'pipeline-solver', 'header-randomizer', 'login-flood', 'preflight-flood', 'upload-flood', 'waves', 'slowloris', 'slow-post', 'slow-read', 'websocket-hold',
  'browse-then-flood', 'account-holders', 'session-replay', 'challenge-solver', 'newcomers-under-attack', 'solver-crowd', 'login-crowd', 'costly-search', 'flash-crowd',
  // Last since the twentieth session, when every cell after it once measured slower; the cause
  // was the demo origin losing workers to pipelined requests whose client left (pipeline-flood's
  // direct cell, fixed in the twenty-first), not the connection flood (docs/benchmarks.md).
  'connect-flood',
  // Twenty-first session: requests no per-request defence sees, inside WebSocket tunnels; the
  // twenty-second: the same from bots that browsed first and keep their cookies.
  'websocket-flood',
  'websocket-browse-flood',
  // Fortieth session: bots that never give up on a request (a closed loop with a 60 s timeout).
  'closed-loop',
  // Forty-second session: bots holding reputations the shield issued a day before (farmed),
  // woken at the onset at a person's pace each.
  'sleeper-crowd',
  // Fifty-fourth session: bots that browse first, from 2,000 sources at 2 req/s each.
  'browse-crowd',
  // Fifty-sixth session: event streams (Server-Sent Events) held open by the thousand.
  'stream-hold',
] as const;
