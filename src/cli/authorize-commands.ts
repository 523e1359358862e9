import type { Command } from 'commander';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { formatProblem, isConfigError } from '../config/load.js';
import { createLogger } from '../core/logger.js';
import { onUncaught } from '../core/fatal.js';
import { loadAuthorizeConfigFile, parseAuthorizeConfig, startAuthorize, type AuthorizeConfig } from '../authorize/index.js';
import { verifyAudit } from '../authorize/audit/audit-chain.js';

const EXIT_CONFIG = 2;

function loadOrExit(file: string | undefined): AuthorizeConfig {
  try {
    if (file) return loadAuthorizeConfigFile(resolve(file));
    const token = process.env.REMPART_AUTHORIZE_ADMIN_TOKEN;
    if (!token) process.stderr.write('authorize: no --config and no REMPART_AUTHORIZE_ADMIN_TOKEN: using a random admin token (enrolment disabled in practice)\n');
    const requester = process.env.REMPART_AUTHORIZE_REQUESTER_TOKEN;
    if (!requester) process.stderr.write('authorize: no --config and no REMPART_AUTHORIZE_REQUESTER_TOKEN: no requester may call the authentication API\n');
    return parseAuthorizeConfig({ adminToken: token ?? randomBytes(24).toString('base64url'), ...(requester ? { requesters: { default: requester } } : {}) });
  } catch (err) {
    if (!isConfigError(err)) throw err;
    for (const p of err.problems) process.stderr.write(formatProblem(err.file, p) + '\n');
    process.exit(EXIT_CONFIG);
  }
}

/** Registers `rempart authorize [--config FILE]` and `rempart authorize audit verify [--db FILE]`. */
export function registerAuthorizeCommands(program: Command): void {
  const cmd = program.command('authorize')
    .description('run the PSD2 payment-authentication service (app approval with SMS fallback) on 127.0.0.1:8090')
    .option('-c, --config <file>', 'authorize YAML configuration')
    .action(async (opts: { config?: string }) => {
      const config = loadOrExit(opts.config);
      const logger = createLogger(config.log.level);
      // Every authentication is in the database before it is answered, so an exit here loses none:
      // the restart ends or resumes each one (docs/authorize.md).
      process.on('uncaughtException', onUncaught(logger, (code) => process.exit(code)));
      const a = await startAuthorize({ config, logger });
      logger.info({ url: a.url, db: config.store.file }, 'authorize: listening');
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) process.exit(1);
        stopping = true;
        logger.info({ signal }, 'authorize: stopping');
        await a.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  cmd.command('audit').description('audit log tools')
    .command('verify')
    .description('verify the hash chain of the audit log; exits 1 if any record was altered or deleted')
    .option('--db <file>', 'authorize database (default: store.file of --config, else ./data/authorize.db)')
    .option('-c, --config <file>', 'authorize YAML configuration (to find the database)')
    .action((opts: { db?: string; config?: string }) => {
      const file = opts.db ?? (opts.config ? loadOrExit(opts.config).store.file : './data/authorize.db');
      let db: Database.Database;
      try {
        db = new Database(file, { readonly: true, fileMustExist: true });
      } catch (err) {
        process.stderr.write(`${file}: cannot open: ${(err as Error).message}\n`);
        process.exit(EXIT_CONFIG);
      }
      const v = verifyAudit(db);
      db.close();
      if (v.ok) {
        process.stdout.write(`${file}: audit OK, ${v.rows} record(s), head ${v.head}\n`);
        return;
      }
      process.stderr.write(`${file}: audit BROKEN at record ${v.seq}: ${v.problem} (${v.rows} record(s) read)\n`);
      process.exit(1);
    });
}
