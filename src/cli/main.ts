import { Command } from 'commander';
import { registerShieldCommands } from './shield-commands.js';
import { registerDrillCommands } from './drill-commands.js';
import { registerAuthorizeCommands } from './authorize-commands.js';
import { registerConsoleCommands } from './console-commands.js';

/** The `rempart` command line: shield, config check, demo, drill and bench. */
const program = new Command('rempart')
  .description('Keep critical online services usable during an application-layer DDoS')
  .version('0.1.0');

registerShieldCommands(program);
registerDrillCommands(program);
registerAuthorizeCommands(program);
registerConsoleCommands(program);

await program.parseAsync(process.argv);
