import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createAuditChain } from '../audit/audit-chain.js';
import type { AuthRecord, AuthStore, IdempotentAnswer, PayerRecord, PendingChallenge, SmsRecord } from './port.js';
import { TERMINAL_STATES } from '../domain/state-machine.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS payers (
  payer_ref TEXT PRIMARY KEY, phone TEXT NOT NULL, knowledge_hash TEXT NOT NULL, devices TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0, blocked_until INTEGER NOT NULL DEFAULT 0, blocks INTEGER NOT NULL DEFAULT 0,
  permanent INTEGER NOT NULL DEFAULT 0, lv_count INTEGER NOT NULL DEFAULT 0, lv_sum INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, payer_ref TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS auths (
  id TEXT PRIMARY KEY, tx_id TEXT NOT NULL, payer_ref TEXT NOT NULL, amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL, payee_id TEXT NOT NULL, payee_name TEXT NOT NULL, link_hash TEXT NOT NULL,
  state TEXT NOT NULL, method TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, app_deadline INTEGER NOT NULL,
  fetch_deadline INTEGER NOT NULL, fetched_at INTEGER NOT NULL, push_failed INTEGER NOT NULL,
  code_hash TEXT NOT NULL, code_expires_at INTEGER NOT NULL, resends INTEGER NOT NULL,
  sms_retry_at INTEGER NOT NULL, next_at INTEGER NOT NULL, terminal INTEGER NOT NULL, reason TEXT NOT NULL,
  requester TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS auths_due ON auths (terminal, next_at);
CREATE INDEX IF NOT EXISTS auths_tx ON auths (tx_id, terminal);
CREATE INDEX IF NOT EXISTS auths_payer_state ON auths (payer_ref, state, created_at);
CREATE TABLE IF NOT EXISTS sms (
  id TEXT PRIMARY KEY, auth_id TEXT NOT NULL, payer_ref TEXT NOT NULL, phone TEXT NOT NULL, provider TEXT NOT NULL,
  provider_message_id TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sms_provider ON sms (provider, provider_message_id);
CREATE INDEX IF NOT EXISTS sms_payer ON sms (payer_ref, at);
CREATE INDEX IF NOT EXISTS sms_phone ON sms (phone, at);
CREATE INDEX IF NOT EXISTS sms_auth ON sms (auth_id);
CREATE TABLE IF NOT EXISTS resends (payer_ref TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS resends_payer ON resends (payer_ref, at);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, pending INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The SQLite store also exposes its database handle (for the audit verifier and tests). */
export type SqliteStore = AuthStore & { db: Database.Database };

const COLS: Array<[keyof AuthRecord, string]> = [
  ['id', 'id'], ['txId', 'tx_id'], ['payerRef', 'payer_ref'], ['amountMinor', 'amount_minor'], ['currency', 'currency'],
  ['payeeId', 'payee_id'], ['payeeName', 'payee_name'], ['linkHash', 'link_hash'], ['state', 'state'], ['method', 'method'],
  ['version', 'version'], ['createdAt', 'created_at'], ['updatedAt', 'updated_at'], ['expiresAt', 'expires_at'],
  ['appDeadline', 'app_deadline'], ['fetchDeadline', 'fetch_deadline'], ['fetchedAt', 'fetched_at'], ['pushFailed', 'push_failed'],
  ['codeHash', 'code_hash'], ['codeExpiresAt', 'code_expires_at'], ['resends', 'resends'], ['smsRetryAt', 'sms_retry_at'],
  ['nextAt', 'next_at'], ['reason', 'reason'], ['requester', 'requester'],
];
const COLUMN = new Map(COLS);

type Row = Record<string, string | number>;

function toRecord(r: Row): AuthRecord {
  const a: Record<string, unknown> = {};
  for (const [k, c] of COLS) a[k] = r[c];
  a.pushFailed = r.push_failed === 1;
  return a as unknown as AuthRecord;
}

const toDb = (v: unknown): string | number => (typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number));

/**
 * The earliest time something must happen to a non-terminal authentication: its whole deadline,
 * the app step, the fetch deadline or the next SMS attempt. Recovery after a restart is just
 * "process every row whose next_at has passed": the timers live in the database.
 */
export function nextDeadline(a: Pick<AuthRecord, 'expiresAt' | 'appDeadline' | 'fetchDeadline' | 'smsRetryAt'>): number {
  let t = a.expiresAt;
  for (const d of [a.appDeadline, a.fetchDeadline, a.smsRetryAt]) if (d > 0 && d < t) t = d;
  return t;
}

/**
 * Opens (creating if needed) the SQLite store: WAL journal, `synchronous` as configured, busy
 * timeout, group commit (see `tx`), checkpoints on a worker thread for a file database.
 * `onCommitError` hears a failed group commit (every request of that turn is answered 500).
 */
export function openSqliteStore(file: string, opts: { synchronous: 'NORMAL' | 'FULL'; onError?: (e: unknown) => void }): SqliteStore {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  // WAL: readers never block the writer; with NORMAL a commit is durable across a process crash
  // (the WAL is in the OS page cache) and costs no fsync; FULL adds an fsync per commit.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous}`);
  db.pragma('busy_timeout = 5000');
  // Checkpoints run on a worker (checkpointer.ts); this large autocheckpoint is only a safety net.
  db.pragma(`wal_autocheckpoint = ${file === ':memory:' ? 1000 : 100_000}`);
  db.pragma('journal_size_limit = 67108864'); // a reset WAL is truncated back to 64 MB at most
  db.pragma('cache_size = -32000'); // 32 MB page cache
  db.exec(SCHEMA);
  // Databases from before requester authentication: add the column (existing rows: '' = any requester).
  if (!(db.prepare('PRAGMA table_info(auths)').all() as Array<{ name: string }>).some((c) => c.name === 'requester')) {
    db.exec("ALTER TABLE auths ADD COLUMN requester TEXT NOT NULL DEFAULT ''");
  }
  const chain = createAuditChain(db);

  const q = {
    upsertPayer: db.prepare(`INSERT INTO payers (payer_ref, phone, knowledge_hash, devices) VALUES (?, ?, ?, ?)
      ON CONFLICT(payer_ref) DO UPDATE SET phone = excluded.phone, knowledge_hash = excluded.knowledge_hash, devices = excluded.devices`),
    getPayer: db.prepare('SELECT * FROM payers WHERE payer_ref = ?'),
    setLockout: db.prepare('UPDATE payers SET failures = ?, blocked_until = ?, blocks = ?, permanent = ? WHERE payer_ref = ?'),
    setExemption: db.prepare('UPDATE payers SET lv_count = ?, lv_sum = ? WHERE payer_ref = ?'),
    dropDevices: db.prepare('DELETE FROM devices WHERE payer_ref = ?'),
    addDevice: db.prepare('INSERT INTO devices (device_id, payer_ref) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET payer_ref = excluded.payer_ref'),
    payerForDevice: db.prepare('SELECT payer_ref FROM devices WHERE device_id = ?'),
    insertAuth: db.prepare(`INSERT INTO auths (${COLS.map(([, c]) => c).join(', ')}, terminal) VALUES (${COLS.map(() => '?').join(', ')}, ?)`),
    getAuth: db.prepare('SELECT * FROM auths WHERE id = ?'),
    activeForTx: db.prepare('SELECT * FROM auths WHERE tx_id = ? AND terminal = 0 AND requester = ? LIMIT 1'),
    due: db.prepare('SELECT * FROM auths WHERE terminal = 0 AND next_at <= ? ORDER BY next_at LIMIT ?'),
    // The most recent 10, narrow columns: an app shows a few pending approvals, never an unbounded list.
    pendingApp: db.prepare(`SELECT id, amount_minor AS amountMinor, currency, payee_id AS payeeId, payee_name AS payeeName, link_hash AS linkHash,
      expires_at AS expiresAt, app_deadline AS appDeadline, fetched_at AS fetchedAt
      FROM auths WHERE payer_ref = ? AND state = 'app_pending' ORDER BY created_at DESC LIMIT 10`),
    unfetched: db.prepare("SELECT * FROM auths WHERE terminal = 0 AND state = 'app_pending' AND fetched_at = 0"),
    countNonTerminal: db.prepare('SELECT count(*) AS n FROM auths WHERE terminal = 0'),
    countByState: db.prepare('SELECT state, count(*) AS n FROM auths GROUP BY state'),
    insertSms: db.prepare('INSERT INTO sms (id, auth_id, payer_ref, phone, provider, provider_message_id, status, at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    smsByProvider: db.prepare('SELECT * FROM sms WHERE provider = ? AND provider_message_id = ?'),
    setSmsStatus: db.prepare('UPDATE sms SET status = ? WHERE id = ?'),
    codeSms: db.prepare("SELECT id FROM sms WHERE auth_id = ? AND kind = 'code' ORDER BY at DESC, rowid DESC"),
    pruneIdem: db.prepare('DELETE FROM idempotency WHERE at < ?'),
    smsSincePayer: db.prepare("SELECT count(*) AS n FROM sms WHERE payer_ref = ? AND at > ? AND kind = 'code'"),
    smsSincePhone: db.prepare("SELECT count(*) AS n FROM sms WHERE phone = ? AND at > ? AND kind = 'code'"),
    addResend: db.prepare('INSERT INTO resends (payer_ref, at) VALUES (?, ?)'),
    resendsSince: db.prepare('SELECT count(*) AS n FROM resends WHERE payer_ref = ? AND at > ?'),
    getIdem: db.prepare('SELECT * FROM idempotency WHERE key = ?'),
    putIdem: db.prepare(`INSERT INTO idempotency (key, body_hash, status, body, pending, at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(key) DO UPDATE SET status = excluded.status, body = excluded.body, pending = excluded.pending WHERE idempotency.pending = 1`),
    insertIdem: db.prepare('INSERT OR IGNORE INTO idempotency (key, body_hash, status, body, pending, at) VALUES (?, ?, ?, ?, ?, ?)'),
    dropIdem: db.prepare('DELETE FROM idempotency WHERE key = ?'),
    getSetting: db.prepare('SELECT value FROM settings WHERE key = ?'),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT step'),
    release: db.prepare('RELEASE step'),
    rollbackTo: db.prepare('ROLLBACK TO step'),
    markFetched: db.prepare(`UPDATE auths SET fetched_at = ?, fetch_deadline = 0, next_at = ?, version = version + 1, updated_at = ?
      WHERE id = ? AND state = 'app_pending' AND fetched_at = 0`),
    setSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };
  const updates = new Map<string, Database.Statement>();
  let depth = 0;

  /**
   * Group commit: the first write of an event-loop turn opens one transaction, every `tx` of the
   * turn runs in it as a savepoint (a failing one rolls back alone), and the transaction commits
   * at the end of the turn (setImmediate). Callers answer only after `durable()`, so an answer
   * still means "committed" — what survives a kill -9 is exactly what was answered, as before —
   * while N concurrent requests pay one commit (one WAL append, one fsync with FULL) instead of N.
   */
  interface Batch { waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>; after: Array<() => void> }
  let batch: Batch | undefined;
  const resolved = Promise.resolve();

  function openBatch(): Batch {
    q.begin.run();
    const b: Batch = { waiters: [], after: [] };
    batch = b;
    setImmediate(commitBatch);
    return b;
  }

  /** The whole transaction is gone (failed COMMIT, or SQLite rolled it back on an I/O error). */
  function abandonBatch(b: Batch, e: unknown): void {
    batch = undefined;
    if (db.inTransaction) q.rollback.run();
    chain.resync();
    for (const w of b.waiters) w.reject(e);
    opts.onError?.(e);
  }

  function commitBatch(): void {
    const b = batch;
    if (!b || !db.open) return;
    try {
      chain.flushHead();
      q.commit.run();
    } catch (e) {
      abandonBatch(b, e);
      return;
    }
    batch = undefined;
    for (const w of b.waiters) w.resolve();
    for (const fn of b.after) {
      try { fn(); } catch (e) { opts.onError?.(e); }
    }
  }

  const store: SqliteStore = {
    db,
    tx<T>(fn: () => T): T {
      // A nested call joins the outer step.
      if (depth > 0) return fn();
      const b = batch ?? openBatch();
      depth++;
      q.savepoint.run();
      const mark = chain.mark();
      try {
        const out = fn();
        q.release.run();
        return out;
      } catch (e) {
        if (!db.inTransaction) {
          abandonBatch(b, e); // SQLite already rolled the whole transaction back
        } else {
          q.rollbackTo.run();
          q.release.run();
          chain.restore(mark); // the rolled-back audit rows must not stay the in-memory head
        }
        throw e;
      } finally {
        depth--;
      }
    },
    durable(): Promise<void> {
      const b = batch;
      if (!b) return resolved;
      return new Promise((resolve, reject) => { b.waiters.push({ resolve, reject }); });
    },
    afterCommit(fn) {
      if (batch) batch.after.push(fn);
      else queueMicrotask(fn);
    },
    audit: (e) => { if (depth === 0) store.tx(() => chain.append(e)); else chain.append(e); },
    upsertPayer(p) {
      q.upsertPayer.run(p.payerRef, p.phone, p.knowledgeHash, JSON.stringify(p.devices));
      q.dropDevices.run(p.payerRef);
      for (const d of p.devices) q.addDevice.run(d.deviceId, p.payerRef);
    },
    getPayer(ref) {
      const r = q.getPayer.get(ref) as Row | undefined;
      if (!r) return undefined;
      return {
        payerRef: String(r.payer_ref), phone: String(r.phone), knowledgeHash: String(r.knowledge_hash),
        devices: JSON.parse(String(r.devices)) as PayerRecord['devices'],
        lockout: { failures: Number(r.failures), blockedUntil: Number(r.blocked_until), blocks: Number(r.blocks), permanent: r.permanent === 1 },
        exemption: { count: Number(r.lv_count), sumMinor: Number(r.lv_sum) },
      };
    },
    setLockout: (ref, s) => { q.setLockout.run(s.failures, s.blockedUntil, s.blocks, s.permanent ? 1 : 0, ref); },
    setExemption: (ref, c) => { q.setExemption.run(c.count, c.sumMinor, ref); },
    payerForDevice: (id) => (q.payerForDevice.get(id) as { payer_ref: string } | undefined)?.payer_ref,
    insertAuth(a) {
      q.insertAuth.run(...COLS.map(([k]) => toDb(a[k])), TERMINAL_STATES.has(a.state) ? 1 : 0);
    },
    getAuth: (id) => { const r = q.getAuth.get(id) as Row | undefined; return r ? toRecord(r) : undefined; },
    activeForTx: (requester, txId) => { const r = q.activeForTx.get(txId, requester) as Row | undefined; return r ? toRecord(r) : undefined; },
    updateAuth(id, version, patch, now) {
      const keys = Object.keys(patch).filter((k) => k !== 'id' && k !== 'version' && k !== 'updatedAt') as Array<keyof AuthRecord>;
      const cacheKey = keys.join(',');
      let stmt = updates.get(cacheKey);
      if (!stmt) {
        const sets = keys.map((k) => `${COLUMN.get(k) ?? String(k)} = ?`);
        if (keys.includes('state')) sets.push('terminal = ?');
        stmt = db.prepare(`UPDATE auths SET ${[...sets, 'version = version + 1', 'updated_at = ?'].join(', ')} WHERE id = ? AND version = ? RETURNING *`);
        updates.set(cacheKey, stmt);
      }
      const args: Array<string | number> = keys.map((k) => toDb(patch[k]));
      if (patch.state) args.push(TERMINAL_STATES.has(patch.state) ? 1 : 0);
      const r = stmt.get(...args, now, id, version) as Row | undefined;
      return r ? toRecord(r) : undefined;
    },
    dueAuths: (now, limit) => (q.due.all(now, limit) as Row[]).map(toRecord),
    pendingApp: (ref) => q.pendingApp.all(ref) as PendingChallenge[],
    markFetched: (id, now, nextAt) => store.tx(() => q.markFetched.run(now, nextAt, now, id).changes === 1),
    appPendingUnfetched: () => (q.unfetched.all() as Row[]).map(toRecord),
    countNonTerminal: () => (q.countNonTerminal.get() as { n: number }).n,
    countByState: () => Object.fromEntries((q.countByState.all() as Array<{ state: string; n: number }>).map((r) => [r.state, r.n])),
    insertSms: (s) => { q.insertSms.run(s.id, s.authId, s.payerRef, s.phone, s.provider, s.providerMessageId, s.status, s.at, s.kind); },
    smsByProviderId(provider, id) {
      const r = q.smsByProvider.get(provider, id) as Row | undefined;
      return r ? {
        id: String(r.id), authId: String(r.auth_id), payerRef: String(r.payer_ref), phone: String(r.phone), provider: String(r.provider),
        providerMessageId: String(r.provider_message_id), status: r.status as SmsRecord['status'], at: Number(r.at), kind: r.kind as SmsRecord['kind'],
      } : undefined;
    },
    setSmsStatus: (id, status) => { q.setSmsStatus.run(status, id); },
    codeSmsOf(authId) {
      const rows = q.codeSms.all(authId) as Array<{ id: string }>;
      return { latestId: rows[0]?.id, count: rows.length };
    },
    pruneIdempotent: (before) => q.pruneIdem.run(before).changes,
    smsSince: (field, value, since) => (((field === 'phone' ? q.smsSincePhone : q.smsSincePayer).get(value, since)) as { n: number }).n,
    addResend: (ref, at) => { q.addResend.run(ref, at); },
    resendsSince: (ref, since) => (q.resendsSince.get(ref, since) as { n: number }).n,
    getIdempotent(key) {
      const r = q.getIdem.get(key) as Row | undefined;
      return r ? { bodyHash: String(r.body_hash), status: Number(r.status), body: String(r.body), pending: r.pending === 1, at: Number(r.at) } : undefined;
    },
    putIdempotent(key, a: IdempotentAnswer, now) {
      const stmt = a.pending ? q.insertIdem : q.putIdem;
      return stmt.run(key, a.bodyHash, a.status, a.body, a.pending ? 1 : 0, now).changes === 1;
    },
    dropIdempotent: (key) => { q.dropIdem.run(key); },
    checkpoint() {
      const run = (): void => { if (db.open && !batch) db.pragma('wal_checkpoint(PASSIVE)'); };
      if (batch) batch.after.push(run);
      else run();
    },
    getSetting: (key) => (q.getSetting.get(key) as { value: string } | undefined)?.value,
    setSetting: (key, value) => { q.setSetting.run(key, value); },
    close: () => {
      if (!db.open) return;
      commitBatch();
      db.close();
    },
  };
  return store;
}

