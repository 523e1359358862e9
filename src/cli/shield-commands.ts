import type { Command } from 'commander';
import { resolve } from 'node:path';
import { formatProblem, isConfigError, loadConfigFile } from '../config/load.js';
import { configWarnings } from '../config/warnings.js';
import { createLogger } from '../core/logger.js';
import { onUncaught } from '../core/fatal.js';
import { startShield } from '../shield/start.js';
import { DEMO_DATA_DIR, runDemo } from '../demo/demo.js';

/** Exit code for configuration errors (like nginx -t and haproxy -c: non-zero, distinct from crashes). */
export const EXIT_CONFIG = 2;

/** Registers `rempart start`, `rempart config check` and `rempart demo`. */
export function registerShieldCommands(program: Command): void {
  program.command('start')
    .description('run the shield (reverse proxy) with a YAML configuration; SIGHUP reloads it')
    .requiredOption('-c, --config <file>', 'configuration file')
    .action(async (opts: { config: string }) => {
      const file = resolve(opts.config);
      let config;
      try {
        config = loadConfigFile(file);
      } catch (err) {
        if (!isConfigError(err)) throw err;
        for (const p of err.problems) process.stderr.write(formatProblem(err.file, p) + '\n');
        process.exit(EXIT_CONFIG);
      }
      const log = createLogger(config.log.level);
      process.on('uncaughtException', onUncaught(log, (code) => process.exit(code)));
      const shield = await startShield({ config, logger: log });
      process.on('SIGHUP', () => {
        try {
          shield.reload(loadConfigFile(file), file);
        } catch (err) {
          const message = isConfigError(err) ? err.problems.map((p) => formatProblem(file, p)).join('; ') : (err as Error).message;
          shield.bus.emit('config:rejected', { file, message });
        }
      });
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) process.exit(1); // a second signal: stop now
        stopping = true;
        const graceMs = shield.config().listen.shutdownGraceMs;
        log.info({ signal, graceMs }, 'stopping: draining requests in flight');
        await shield.close({ graceMs });
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  const config = program.command('config').description('configuration tools');
  config.command('check')
    .description('validate a configuration file; prints every problem with its key path and line, exits 2 on error')
    .argument('<file>', 'configuration file')
    .action((file: string) => {
      try {
        const c = loadConfigFile(resolve(file));
        const servers = Object.values(c.upstreams).reduce((n, u) => n + u.servers.length, 0);
        // Valid but probably not meant: said, not refused (exit 0).
        for (const w of configWarnings(c)) process.stderr.write(`${file}: warning: ${w.path}: ${w.message}\n`);
        process.stdout.write(`${file}: OK (${Object.keys(c.upstreams).length} upstream(s) with ${servers} server(s), ${c.routes.length} route(s))\n`);
      } catch (err) {
        if (!isConfigError(err)) throw err;
        for (const p of err.problems) process.stderr.write(formatProblem(file, p) + '\n');
        process.stderr.write(`${file}: ${err.problems.length} problem(s)\n`);
        process.exit(EXIT_CONFIG);
      }
    });

  program.command('demo')
    .description('start a demo origin (parcel tracking, search, bank) behind the shield on 127.0.0.1:8080')
    .option('--port <n>', 'shield port', '8080')
    .option('--admin-port <n>', 'admin port', '8081')
    .option('--origin-port <n>', 'origin port (0 = any free port)', '0')
    .option('--authorize-port <n>', 'payment authorization service port (0 = any free port)', '8090')
    .option('--data-dir <dir>', 'where the authorization service keeps its store and SMS outbox', DEMO_DATA_DIR)
    .action(async (opts: { port: string; adminPort: string; originPort: string; authorizePort: string; dataDir: string }) => {
      await runDemo({ port: Number(opts.port), adminPort: Number(opts.adminPort), originPort: Number(opts.originPort), authorizePort: Number(opts.authorizePort), dataDir: resolve(opts.dataDir) });
    });
}
