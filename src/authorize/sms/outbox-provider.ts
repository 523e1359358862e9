import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DeliveryReceipt, SmsProvider } from './port.js';

/** One message in the outbox, as the demo's SMS page shows it. */
export interface OutboxMessage { id: string; to: string; text: string; at: number }

/**
 * The demo's SMS "network": a SQLite table in its own file (it stands for the operator's SMSC and
 * the phone, so it holds the text — code included — and is never the authorize database).
 * Every accepted message is reported delivered at once.
 */
export function createOutboxProvider(opts: { name: string; file: string; now: () => number }): SmsProvider & {
  list(limit: number, to?: string): OutboxMessage[]; setFailing(reason: string | undefined): void } {
  if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
  const db = new Database(opts.file);
  db.pragma('journal_mode = WAL');
  // It stands for a remote SMSC: an fsync per message (WAL's default FULL) would stall the service's event loop.
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, "to" TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO outbox (id, "to", text, at) VALUES (?, ?, ?, ?)');
  const listAll = db.prepare('SELECT id, "to", text, at FROM outbox ORDER BY at DESC, rowid DESC LIMIT ?');
  const listTo = db.prepare('SELECT id, "to", text, at FROM outbox WHERE "to" = ? ORDER BY at DESC, rowid DESC LIMIT ?');
  const fns: Array<(r: DeliveryReceipt) => void> = [];
  let failing: string | undefined;
  return {
    name: opts.name,
    async start() {},
    async send(m) {
      if (failing) return { kind: 'failed', reason: failing };
      if (!db.open) return { kind: 'failed', reason: 'outbox closed' };
      const id = randomUUID();
      insert.run(id, m.to, m.text, opts.now());
      setImmediate(() => { for (const fn of fns) fn({ provider: opts.name, providerMessageId: id, status: 'delivered' }); });
      return { kind: 'accepted', providerMessageId: id };
    },
    onReceipt(fn) { fns.push(fn); },
    list: (limit, to) => (to ? listTo.all(to, limit) : listAll.all(limit)) as OutboxMessage[],
    setFailing(reason) { failing = reason; },
    async close() { if (db.open) db.close(); },
  };
}
