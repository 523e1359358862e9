import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

/** What a caller records; never a code, knowledge factor or key (RTS art. 22). */
export interface AuditInput {
  at: number;
  kind: string;
  authId?: string;
  payerRef?: string;
  data?: Record<string, unknown>;
}

/** A stored audit row. */
export interface AuditRow { seq: number; at: number; kind: string; auth_id: string; payer_ref: string; data: string; prev_hash: string; hash: string }

const GENESIS = '0'.repeat(64);

/** The hash of a row: SHA-256 over the previous hash and the row's content. */
export function auditHash(prev: string, r: { seq: number; at: number; kind: string; auth_id: string; payer_ref: string; data: string }): string {
  return createHash('sha256').update(prev).update('\n')
    .update(JSON.stringify([r.seq, r.at, r.kind, r.auth_id, r.payer_ref, r.data])).digest('hex');
}

/** Creates the audit tables if missing. */
export function createAuditSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS audit (
      seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, auth_id TEXT NOT NULL,
      payer_ref TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  `);
}

/**
 * An append-only, hash-chained audit log in the service's database: each row hashes the previous
 * row's hash with its own content, and a head row records the last (seq, hash), so an altered,
 * deleted or truncated record breaks verification. Call `append` inside the transaction that
 * makes the change, so the change and its record commit together, and `flushHead` just before
 * that transaction commits (one head write per commit, however many records it holds).
 */
export interface AuditChain {
  append(e: AuditInput): void;
  /** Writes the head row if records were appended since the last flush. */
  flushHead(): void;
  /** The in-memory head, to return to when a savepoint is rolled back. */
  mark(): { seq: number; hash: string };
  restore(m: { seq: number; hash: string }): void;
  /** Re-reads the head from the database (after a whole transaction was rolled back). */
  resync(): void;
}

/** Opens the chain of `db` (creating its tables if missing). */
export function createAuditChain(db: Database.Database): AuditChain {
  createAuditSchema(db);
  const insert = db.prepare('INSERT INTO audit (seq, at, kind, auth_id, payer_ref, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const head = db.prepare('INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash');
  const readHead = db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1');
  let last = { seq: 0, hash: GENESIS };
  let flushed = 0;
  const resync = (): void => {
    const h = readHead.get() as { seq: number; hash: string } | undefined;
    last = h ?? { seq: 0, hash: GENESIS };
    flushed = last.seq;
  };
  resync();
  return {
    resync,
    mark: () => last,
    restore(m) { last = m; },
    flushHead() {
      if (last.seq === flushed) return;
      head.run(last.seq, last.hash);
      flushed = last.seq;
    },
    append(e) {
      const row = { seq: last.seq + 1, at: e.at, kind: e.kind, auth_id: e.authId ?? '', payer_ref: e.payerRef ?? '', data: JSON.stringify(e.data ?? {}) };
      const hash = auditHash(last.hash, row);
      insert.run(row.seq, row.at, row.kind, row.auth_id, row.payer_ref, row.data, last.hash, hash);
      last = { seq: row.seq, hash };
    },
  };
}

/** The outcome of verifying the chain: ok, or the first broken record and why. */
export type AuditVerdict = { ok: true; rows: number; head: string } | { ok: false; rows: number; seq: number; problem: string };

/** Walks the whole chain: recomputes every hash, checks links, sequence continuity and the head. */
export function verifyAudit(db: Database.Database): AuditVerdict {
  const stmt = db.prepare('SELECT seq, at, kind, auth_id, payer_ref, data, prev_hash, hash FROM audit ORDER BY seq');
  let prev = GENESIS;
  let expectSeq = 1;
  let rows = 0;
  for (const r of stmt.iterate() as IterableIterator<AuditRow>) {
    rows++;
    if (r.seq !== expectSeq) return { ok: false, rows, seq: expectSeq, problem: `record ${expectSeq} is missing (next is ${r.seq})` };
    if (r.prev_hash !== prev) return { ok: false, rows, seq: r.seq, problem: 'link to the previous record is broken' };
    if (auditHash(prev, r) !== r.hash) return { ok: false, rows, seq: r.seq, problem: 'record content does not match its hash (altered)' };
    prev = r.hash;
    expectSeq++;
  }
  const h = db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: string } | undefined;
  const headSeq = h?.seq ?? 0;
  if (headSeq !== expectSeq - 1 || (h && h.hash !== prev)) {
    return { ok: false, rows, seq: headSeq, problem: `head says ${headSeq} records, chain has ${expectSeq - 1} (records deleted at the end?)` };
  }
  return { ok: true, rows, head: prev };
}
