/**
 * The shield's public entry: the drill, the benchmarks, the demo and the CLI reach the shield
 * through these exports only (enforced by test/boundaries.test.ts).
 */
export { startShield, type ShieldHandle, type StartOptions } from './start.js';
export { parseConfig, parseConfigText, loadConfigFile, isConfigError, formatProblem, type ConfigProblem } from '../config/load.js';
export type { Config } from '../config/schema.js';
// Building blocks embedders and benchmarks use directly.
export { createCidrTable, type CidrTable } from './blocklist/cidr-table.js';
export type { RequestFilter, UpstreamRequestFilter, UpstreamResponseFilter, FailureFilter, LoggingFilter, PhaseExtensions } from './pipeline/phases.js';
export { named } from './pipeline/phases.js';
export type { RequestContext } from './context.js';
export type { Verdict } from './verdict.js';
// The challenge protocol's reference client (docs/challenge.md), for non-browser clients.
export { solveChallenge, solvePow } from './challenge/solver.js';
// A reputation for a client known before this shield ran (bench ddos --known-customers).
export { mintReputationCookie } from './reputation/issue.js';
export { parseChallengeHeader, type ChallengeDescription } from './challenge/header.js';
export { createTrafficSketch, type TrafficSketch, type Observation } from './detect/source-tracker.js';
export { createSpaceSaving } from './detect/space-saving.js';
export { createReputationRoster, DEFAULT_ROSTER } from './reputation/roster.js';
export { CHUNK_ROWS, createRosterStore } from './reputation/roster-store.js';
export { addressPrefixes } from './detect/address-prefix.js';
