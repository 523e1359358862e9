import type { Command } from 'commander';

/** Registers `rempart start`, `rempart config check` and `rempart demo`. */
export function registerShieldCommands(_program: Command): void {}
