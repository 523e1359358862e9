/**
 * The DDoS benchmark matrix, as `rempart bench ddos` runs it (see docs/drill.md); extra arguments
 * are passed through, e.g. `npx tsx bench/ddos.ts --record docs/benchmarks.md`.
 */
import { Command } from 'commander';
import { registerDrillCommands } from '../src/cli/drill-commands.js';

const program = new Command('rempart');
registerDrillCommands(program);
await program.parseAsync([process.argv[0]!, process.argv[1]!, 'bench', 'ddos', ...process.argv.slice(2)]);
