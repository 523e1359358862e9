import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { renderHtml } from '../drill/report/html.js';
import { progressLine, renderText } from '../drill/report/terminal.js';
import { runDrill, type DrillProgress } from '../drill/run.js';
import { getScenario, SCENARIOS } from '../drill/scenarios.js';
import { BENCH_LAYOUTS, DEFAULT_BENCH_SCENARIOS, type BenchLayout } from '../drill/bench/layouts.js';
import type { AddressLayout } from '../drill/addresses.js';
import { parseOriginShape, type OriginShape } from '../drill/bench/origin-shape.js';
import { ACCOUNT_DATA } from '../drill/users.js';

const benchLayoutArg = (v: string): BenchLayout => {
  if (!(v in BENCH_LAYOUTS)) throw new InvalidArgumentError(`layout must be one of ${Object.keys(BENCH_LAYOUTS).join(', ')}`);
  return v as BenchLayout;
};

const shieldLogArg = (v: string): 'default' | 'off' => {
  if (v !== 'default' && v !== 'off') throw new InvalidArgumentError('shield log must be default or off');
  return v;
};

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
const count = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number >= 0`);
  return n;
};
const collect = (v: string, prev: string[]): string[] => [...prev, v];
const shareArg = (v: string): number => {
  const n = Number(v);
  if (!(v.trim() !== '' && n >= 0 && n <= 1)) throw new InvalidArgumentError('a share must be a number from 0 to 1');
  return n;
};
const searchPathSuffixArg = (v: string): string => {
  // Path segments only: a query or a fragment here would change what the origin is asked, not where the terms sit.
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(v)) throw new InvalidArgumentError('a search path suffix is one or more path segments, e.g. /page/1');
  return v;
};
const pageRequests = (v: string): number => {
  const n = count('page requests')(v);
  if (n > ACCOUNT_DATA.length) throw new InvalidArgumentError(`page requests must be at most ${ACCOUNT_DATA.length} (the account page's data: ${ACCOUNT_DATA.join(', ')})`);
  return n;
};
const layoutArg = (v: string): AddressLayout => {
  if (v !== 'disjoint' && v !== 'shared-24' && v !== 'shared-address') throw new InvalidArgumentError('layout must be disjoint, shared-24 or shared-address');
  return v;
};

/** Ctrl-C aborts the run (the report is still written); a second Ctrl-C exits at once. */
export function abortOnSigint(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  let count = 0;
  const onSig = (): void => {
    count++;
    if (count > 1) process.exit(130);
    process.stderr.write('\nstopping: finishing the report (Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', onSig) };
}

/** Draws the progress line over itself on a TTY, or prints one line every 5 s otherwise. */
export function progressPrinter(): { update(p: DrillProgress): void; end(): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(p) {
      if (tty) process.stderr.write(`\r${progressLine(p)}\x1b[K`);
      else if (p.elapsedS - last >= 5) { last = p.elapsedS; process.stderr.write(`${progressLine(p)}\n`); }
    },
    end() { if (tty) process.stderr.write('\n'); },
  };
}

function scenarioHelp(): string {
  return Object.values(SCENARIOS).map((s) => {
    const params = Object.entries(s.params).map(([k, d]) => `      ${k}=${d.default}  ${d.doc}`).join('\n');
    return `  ${s.name}: ${s.summary}${params ? `\n${params}` : ''}`;
  }).join('\n');
}

/** Registers `rempart drill` and `rempart bench`. */
export function registerDrillCommands(program: Command): void {
  program.command('drill')
    .description('Play legitimate users and an attack against a target on loopback; report what the users experienced')
    .option('--target <url>', 'target base URL (127.0.0.0/8 or ::1 unless --allow-target)')
    .option('--scenario <name>', 'attack scenario (see --list-scenarios)', 'none')
    .option('--duration <s>', 'run length in seconds (at most 3600)', positive('duration'), 30)
    .option('--lead <s>', 'seconds of legitimate traffic before the attack (default 3, or the scenario\'s warm-up; at most 3/4 of --duration)', positive('lead'))
    .option('--time-scale <k>', 'divide think times and polling intervals by k (short runs)', positive('time scale'), 1)
    .option('--param <k=v>', 'scenario parameter override (repeatable)', collect, [] as string[])
    .option('--users <n>', 'tracking users', count('users'), 40)
    .option('--bank-users <n>', 'banking users', count('bank users'), 15)
    .option('--users-per-address <n>', 'legitimate users sharing one address (carrier NAT)', positive('users per address'), 4)
    .option('--layout <name>', 'attack addresses: disjoint (anywhere in 127/8), shared-24 (each in a legitimate user\'s /24) or shared-address (the users\' own addresses and agents)', layoutArg, 'disjoint')
    .option('--origin-stats <url>', 'the origin\'s /__origin/stats URL, to measure origin load and what reached it')
    .option('--allow-target <host>', 'allow a non-loopback target host (repeatable; your own service only)', collect, [] as string[])
    .option('--max-connections <n>', 'cap on sockets the drill may open', positive('max connections'), 8000)
    .option('--seed <n>', 'random seed (same seed, same traffic shape)', positive('seed'))
    .option('--json <file>', 'write the full report as JSON')
    .option('--html <file>', 'write a self-contained HTML report with charts')
    .option('--list-scenarios', 'list scenarios and their parameters, then exit')
    .action(async (o: {
      target?: string; scenario: string; duration: number; lead?: number; timeScale: number; param: string[]; users: number; bankUsers: number;
      usersPerAddress: number; layout: AddressLayout; originStats?: string; allowTarget: string[]; maxConnections: number; seed?: number;
      json?: string; html?: string; listScenarios?: boolean;
    }) => {
      if (o.listScenarios) { process.stdout.write(`${scenarioHelp()}\n`); return; }
      if (!o.target) throw new InvalidArgumentError('--target is required');
      const params = Object.fromEntries(o.param.map((kv) => {
        const i = kv.indexOf('=');
        if (i <= 0) throw new InvalidArgumentError(`--param expects k=v, got "${kv}"`);
        return [kv.slice(0, i), kv.slice(i + 1)];
      }));
      const sig = abortOnSigint();
      const progress = progressPrinter();
      try {
        const report = await runDrill({
          target: o.target, scenario: o.scenario, durationS: o.duration, ...(o.lead !== undefined ? { leadS: o.lead } : {}), timeScale: o.timeScale, params,
          trackingUsers: Math.round(o.users), bankingUsers: Math.round(o.bankUsers), usersPerAddress: Math.round(o.usersPerAddress), layout: o.layout,
          originStats: o.originStats, allowTargets: o.allowTarget, maxConnections: o.maxConnections, seed: o.seed,
          signal: sig.signal, onProgress: progress.update,
        });
        progress.end();
        process.stdout.write(`${renderText(report)}\n`);
        if (o.json) { writeFileSync(o.json, JSON.stringify(report, null, 2)); process.stderr.write(`JSON report: ${o.json}\n`); }
        if (o.html) { writeFileSync(o.html, renderHtml(report)); process.stderr.write(`HTML report: ${o.html}\n`); }
      } catch (err) {
        // Refusals and bad parameters are the operator's to fix: a message, not a stack trace.
        process.stderr.write(`error: ${(err as Error).message}\n`);
        process.exitCode = 2;
      } finally {
        sig.dispose();
      }
    });

  const bench = program.command('bench').description('Benchmarks that run several targets side by side');
  bench.command('ddos')
    .description('Origin + {direct, rempart, nginx, haproxy} x scenarios: legitimate success, p99 per class, attack reaching the origin')
    .option('--targets <list>', 'comma-separated targets (also: rempart-cache; rempart-plain: one route for everything, no session cookie)', 'direct,rempart,nginx,haproxy')
    .option('--scenarios <list>', 'comma-separated scenarios (any of drill --list-scenarios)', DEFAULT_BENCH_SCENARIOS.join(','))
    .option('--layout <name>', 'address layout: disjoint (default), shared-24 (attackers in customers\' /24s), cgnat (20 customers per carrier address), cgnat-shared (the bots behind those addresses, with the customers\' agents)', benchLayoutArg, 'disjoint')
    .option('--duration <s>', 'seconds per cell', positive('duration'), 20)
    .option('--lead <s>', 'seconds of legitimate traffic before each attack (default 3, or the scenario\'s warm-up; at most 3/4 of --duration); past 30 s the shield has learned normal traffic', positive('lead'))
    .option('--time-scale <k>', 'time compression of user think times', positive('time scale'), 5)
    .option('--seed <n>', 'random seed', positive('seed'), 1)
    .option('--json <file>', 'write every cell\'s report as JSON')
    .option('--html-dir <dir>', 'write one HTML report per cell into this directory')
    .option('--access-log-dir <dir>', "write Rempart's access log (queue wait, tier, pace, identity digest per request) into this directory, one file per cell")
    .option('--shield-log <mode>', "Rempart's own log: default (the product's: the access log within its budget, to a file) or off (warnings only, as runs before December 2026)", shieldLogArg, 'default')
    .option('--record <file>', 'replace the bench:ddos section of this Markdown file with the table')
    .option('--keep-state', 'one Rempart process for the whole run, its attack state and reputations carried from cell to cell (default: a fresh shield before each cell)')
    .option('--kill-server <s>', 'failover run: two origin servers, the first killed this many seconds into each cell (recorded as bench:ddos-kill-server)', positive('kill time'))
    .option('--restart-shield <s>', 'restart run: each Rempart stopped gracefully this many seconds into each cell and started again on its port, its state in a SQLite file of the cell\'s own (recorded as bench:ddos-restart)', positive('restart time'))
    .option('--restart-forgets', 'with --restart-shield: no state file, the restarted shield starts from nothing')
    .option('--h2', 'with --tls: every target also offers HTTP/2 (Rempart listen.tls.http2, nginx listen … http2, HAProxy alpn h2); the customers still speak HTTP/1.1; h2-rapid-reset, h2-multiplex-flood and h2-slow-post speak h2')
    .option('--h2-customers', 'with --h2: the customers\' browsers offer HTTP/2 too (one connection each, the page\'s requests as streams)')
    .option('--tls', 'every target over TLS (Rempart listen.tls, nginx ssl, HAProxy ssl crt; one test certificate of the checkout); the drill makes every handshake and verifies no certificate. direct is left out')
    .option('--known-customers', 'returning customers: every user before the crowd holds a reputation Rempart issued a week before (default: every reputation is the cell\'s own)')
    .option('--page-requests <n>', 'requests the banking account page\'s script sends at once for its data, as a browser does (default 0: a page is one request)', pageRequests)
    .option('--long-searches <share>', 'share of the tracking customers\' searches typed as a sentence of 4-10 words, each word a lookup at the origin (default 0.2; 0: a word or two each)', shareArg)
    .option('--search-in-path', 'the site\'s search takes its terms in the path (/search/colis+suivi) rather than the query, for the customers and the costly-search flood')
    .option('--search-path-suffix <path>', 'with --search-in-path: what follows the terms in the path, e.g. /page/1 (/search/colis+suivi/page/1: the terms in an inner segment)', searchPathSuffixArg)
    .option('--search-by-post', 'the site\'s search form posts its terms (POST /search, q=colis+suivi urlencoded) rather than sending them in the URL, for the customers and the costly-search flood')
    .option('--origin <shape>', 'another origin than the bench\'s (2 workers, 40 ms a lookup, queue 64): workers=N,serviceMs=N[,queue=N][,spreadPct=N] — the same matrix against another application', originShapeArg)
    .option('--param <scenario.k=v>', 'attack parameter over the bench\'s own, e.g. browse-then-flood.sources=1000 (repeatable; drill --list-scenarios lists them)', benchParamArg, [] as string[])
    .action(async (o: { param: string[]; targets: string; scenarios: string; layout: BenchLayout; duration: number; lead?: number; timeScale: number; seed: number; json?: string; htmlDir?: string; accessLogDir?: string; shieldLog: 'default' | 'off'; record?: string; killServer?: number; restartShield?: number; restartForgets?: boolean; keepState?: boolean; knownCustomers?: boolean; tls?: boolean; h2?: boolean; h2Customers?: boolean; pageRequests?: number; longSearches?: number; searchInPath?: boolean; searchPathSuffix?: string; searchByPost?: boolean; origin?: Partial<OriginShape> }) => {
      const { runDdosBench, checkOverrides } = await import('../drill/bench/ddos.js');
      const scenarios = o.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
      const params = benchOverrides(o.param);
      try {
        for (const s of scenarios) getScenario(s);
        checkOverrides(scenarios, params);
      } catch (err) {
        // An unknown scenario or parameter is the operator's to fix: a message, not a stack trace.
        process.stderr.write(`error: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const sig = abortOnSigint();
      try {
        await runDdosBench({
          targets: o.targets.split(',').map((s) => s.trim()).filter(Boolean),
          scenarios, layout: o.layout,
          durationS: o.duration, ...(o.lead !== undefined ? { leadS: o.lead } : {}), timeScale: o.timeScale, seed: o.seed, json: o.json, htmlDir: o.htmlDir, ...(o.accessLogDir !== undefined ? { accessLogDir: o.accessLogDir } : {}), shieldLog: o.shieldLog, record: o.record,
          signal: sig.signal, argv: process.argv.slice(2), ...(o.killServer !== undefined ? { killServerAtS: o.killServer } : {}),
          ...(o.restartShield !== undefined ? { restartShieldAtS: o.restartShield, ...(o.restartForgets === true ? { restartForgets: true } : {}) } : {}),
          ...(o.keepState === true ? { keepState: true } : {}), ...(o.knownCustomers === true ? { knownCustomers: true } : {}), ...(o.tls === true ? { tls: true } : {}), ...(o.h2 === true ? { h2: true } : {}), ...(o.h2Customers === true ? { h2Customers: true } : {}),
          ...(o.pageRequests !== undefined ? { pageRequests: o.pageRequests } : {}), ...(o.longSearches !== undefined ? { longSearchShare: o.longSearches } : {}), ...(o.searchInPath === true ? { searchInPath: true } : {}), ...(o.searchPathSuffix !== undefined ? { searchInPath: true, searchPathSuffix: o.searchPathSuffix } : {}), ...(o.searchByPost === true ? { searchByPost: true } : {}), ...(o.origin !== undefined ? { origin: o.origin } : {}), params,
        });
      } finally {
        sig.dispose();
      }
    });
}

/** `--origin workers=N,serviceMs=N[,queue=N]` over the bench's origin, checked as it is parsed. */
function originShapeArg(text: string): Partial<OriginShape> {
  try {
    return parseOriginShape(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--origin: /, ''));
  }
}

const BENCH_PARAM = /^([a-z0-9-]+)\.([A-Za-z0-9]+)=(-?[0-9.]+)$/;

/** One `--param scenario.key=number`, checked as it is parsed (commander reports the error). */
function benchParamArg(pair: string, prev: string[]): string[] {
  const m = BENCH_PARAM.exec(pair);
  if (!m || !Number.isFinite(Number(m[3]))) throw new InvalidArgumentError(`expected scenario.key=number, got "${pair}"`);
  return [...prev, pair];
}

/** Checked `scenario.key=value` pairs into overrides by scenario. */
export function benchOverrides(pairs: readonly string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const pair of pairs) {
    const m = BENCH_PARAM.exec(pair)!;
    (out[m[1]!] ??= {})[m[2]!] = Number(m[3]);
  }
  return out;
}
