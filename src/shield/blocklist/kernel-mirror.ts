import { spawn } from 'node:child_process';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Service } from '../../core/lifecycle.js';
import { formatCidr, parseCidr, type Cidr } from '../../core/ip.js';
import type { CidrEntry, CidrTable } from './cidr-table.js';
import { createNftState, nftAdd, nftForgetExpired, nftRemove, nftReset, nftTeardown, type NftTarget } from './nft-script.js';

/**
 * The connection-level blocklist pushed into the kernel with nftables (`kernelBlocklist`): a
 * blocked source's packets to the shield's port are dropped by netfilter, before an accept, a
 * socket, a gate lookup and a reset — what fail2ban does for sshd, for the shield's own decisions
 * (detector blocks with their TTL, the operator's blocks, the configuration's). The userspace
 * blocklist stays the authority and keeps refusing: the kernel copy only makes a refusal free.
 * Nothing here may take the shield down: an `nft` that is missing, refused (no CAP_NET_ADMIN) or
 * failing is logged, counted in /api/state, and the shield goes on with its userspace blocklist.
 *
 * Changes are batched (one `nft -f -` at a time, at most every 100 ms: a detector blocking a
 * thousand sources in a second costs a few processes, not a thousand) and bounded: past
 * MAX_PENDING waiting commands, new ones are dropped and counted. The table is made anew at start
 * (with every live block) and deleted at stop.
 */

/** Runs an nft script (`nft -f -`); resolves with what it said, never rejects. */
export type NftRunner = (script: string) => Promise<{ ok: boolean; stderr: string }>;

export interface KernelMirrorSettings {
  readonly enabled: boolean;
  readonly table: string;
  /** The nft binary. */
  readonly command: string;
}

/** What /api/state shows of the mirror. */
export interface KernelMirrorState {
  readonly enabled: boolean;
  /** The table exists and batches go through. */
  readonly active: boolean;
  readonly table: string;
  /** Blocks pushed and not yet swept (an expired one counts until the blocklist's next sweep, ≤ 5 s). */
  readonly elements: number;
  readonly batches: number;
  readonly failures: number;
  /** Commands dropped because too many waited (the userspace blocklist still refused those sources). */
  readonly dropped: number;
  readonly lastError?: string;
}

/** Told of every change of the userspace blocklist. */
export interface BlocklistSink {
  added(cidr: string, block: Cidr, expiresAt: number | undefined): void;
  removed(cidr: string): void;
  /** The blocklist swept its expired entries (the kernel's own timeouts dropped them there). */
  swept(now: number): void;
}

export interface KernelMirror extends Service, BlocklistSink {
  state(): KernelMirrorState;
  /** Resolves once every command handed so far has been run (tests, stop). */
  settled(): Promise<void>;
}

const FLUSH_MS = 100;
const MAX_PENDING = 50_000;
/** One nft run at most this long: a hung nft must not hold the batches forever. */
const RUN_TIMEOUT_MS = 10_000;

/** Runs `command -f -` with the script on its standard input. */
export function spawnNft(command: string): NftRunner {
  return (script) => new Promise((resolve) => {
    let stderr = '';
    let done = false;
    const finish = (ok: boolean, why?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, stderr: (why ?? stderr).trim() });
    };
    const child = spawn(command, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    const timer = setTimeout(() => { child.kill('SIGKILL'); finish(false, `${command} did not finish within ${RUN_TIMEOUT_MS} ms`); }, RUN_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
    child.on('error', (err) => finish(false, `${command}: ${err.message}`));
    child.on('close', (code) => finish(code === 0, code === 0 ? undefined : stderr || `${command} exited ${code}`));
    child.stdin.on('error', () => { /* the close handler reports */ });
    child.stdin.end(`${script}\n`);
  });
}

export function createKernelMirror(o: {
  settings: KernelMirrorSettings;
  /** The shield's listening port, read at start (the listener is up by then). */
  port: () => number;
  /** Live blocks at start. */
  entries: () => readonly CidrEntry<unknown>[];
  /** Wall clock, the blocklist's. */
  clock: Clock;
  log: Logger;
  run?: NftRunner;
}): KernelMirror {
  const { settings, clock, log } = o;
  const run = o.run ?? spawnNft(settings.command);
  const state = createNftState();
  let target: NftTarget | undefined;
  // From the start batch on, changes are taken (a block decided while it runs is queued behind it); they are sent once it succeeded.
  let accepting = false;
  let active = false;
  let pending: string[] = [];
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let batches = 0;
  let failures = 0;
  let dropped = 0;
  let lastError: string | undefined;

  const firstLine = (s: string): string => s.split('\n').find((l) => l.trim() !== '')?.slice(0, 300) ?? 'no message';

  const runBatch = async (lines: string[]): Promise<void> => {
    batches++;
    const r = await run(lines.join('\n'));
    if (r.ok) return;
    // A delete of an element the kernel no longer holds fails the whole batch (nft applies a
    // batch atomically): once more without the deletes, which are the only commands that can.
    const adds = lines.filter((l) => !l.startsWith('delete element'));
    const retry = adds.length > 0 && adds.length < lines.length ? await run(adds.join('\n')) : r;
    if (retry.ok) return;
    failures++;
    lastError = firstLine(retry.stderr);
    log.warn({ table: settings.table, err: lastError, commands: lines.length }, 'kernelBlocklist: nft refused a batch; those blocks stay in userspace only');
  };

  const flush = (): void => {
    timer = undefined;
    if (running !== undefined || pending.length === 0 || !active) return;
    const lines = pending;
    pending = [];
    running = runBatch(lines).catch((err: unknown) => { failures++; lastError = (err as Error)?.message ?? String(err); }).finally(() => {
      running = undefined;
      if (pending.length > 0) schedule();
    });
  };
  const schedule = (): void => {
    if (timer === undefined && running === undefined) { timer = setTimeout(flush, FLUSH_MS); timer.unref(); }
  };
  const queue = (lines: string[]): void => {
    if (lines.length === 0) return;
    if (pending.length + lines.length > MAX_PENDING) { dropped += lines.length; return; }
    pending.push(...lines);
    schedule();
  };

  return {
    name: 'kernel-blocklist',
    async start() {
      if (!settings.enabled) return;
      target = { table: settings.table, port: o.port() };
      const now = clock.now();
      const lines = nftReset(target, state);
      for (const e of o.entries()) lines.push(...nftAdd(target, state, e.cidr, e.block, e.expiresAt, now));
      accepting = true;
      batches++;
      const r = await run(lines.join('\n')).catch((err: unknown) => ({ ok: false, stderr: (err as Error)?.message ?? String(err) }));
      if (!r.ok) {
        failures++;
        lastError = firstLine(r.stderr);
        accepting = false;
        pending = [];
        state.sets.clear();
        state.elements.clear();
        log.error({ table: settings.table, command: settings.command, err: lastError },
          'kernelBlocklist: nft could not make its table (is nftables installed, and does the shield have CAP_NET_ADMIN?); the blocklist stays in userspace only');
        return;
      }
      active = true;
      if (pending.length > 0) schedule();
      log.info({ table: settings.table, port: target.port, blocks: state.elements.size }, 'kernelBlocklist: blocks mirrored in nftables');
    },
    added(cidr, block, expiresAt) {
      if (!accepting || target === undefined) return;
      queue(nftAdd(target, state, cidr, block, expiresAt, clock.now()));
    },
    removed(cidr) {
      if (!accepting || target === undefined) return;
      queue(nftRemove(target, state, cidr, clock.now()));
    },
    swept(now) { nftForgetExpired(state, now); },
    async settled() {
      // Bounded: each round either runs a batch or finds nothing left.
      for (let i = 0; i < 1000 && (running !== undefined || (active && pending.length > 0)); i++) {
        if (running === undefined) { clearTimeout(timer); flush(); }
        await running;
      }
    },
    async stop() {
      if (!active || target === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      await running;
      pending = [];
      accepting = false;
      active = false;
      const r = await run(nftTeardown(target).join('\n'));
      if (!r.ok) log.warn({ table: settings.table, err: firstLine(r.stderr) }, 'kernelBlocklist: nft could not delete its table');
    },
    state() {
      return {
        enabled: settings.enabled, active, table: settings.table, elements: state.elements.size, batches, failures, dropped,
        ...(lastError !== undefined ? { lastError } : {}),
      };
    },
  };
}

/**
 * The blocklist with every change told to `sink`: each of its writers (configuration, detector,
 * operator) goes through `add` and `remove`, so the kernel copy follows whoever decided.
 * Expiry needs no command: the kernel's timeouts are the blocks' own.
 */
export function mirrorBlocklist<V>(table: CidrTable<V>, sink: () => BlocklistSink | undefined): CidrTable<V> {
  return {
    add(cidr, value, expiresAt) {
      const canonical = table.add(cidr, value, expiresAt);
      sink()?.added(canonical, typeof cidr === 'string' ? parseCidr(cidr) : cidr, expiresAt);
      return canonical;
    },
    remove(cidr) {
      if (!table.remove(cidr)) return false;
      sink()?.removed(formatCidr(typeof cidr === 'string' ? parseCidr(cidr) : cidr));
      return true;
    },
    lookup: (ip, now) => table.lookup(ip, now),
    lookupParsed: (ip, now) => table.lookupParsed(ip, now),
    entries: (now) => table.entries(now),
    // What the kernel let expire is forgotten with the userspace entries (blocklist-sweeper, every
    // 5 s): the mirror's record of blocks stays as small as the blocklist.
    sweep: (now) => { const n = table.sweep(now); sink()?.swept(now); return n; },
    get size() { return table.size; },
  };
}
