import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteDatabase = Database.Database;

/**
 * Opens the shield's own SQLite file (event log, status incidents and history), or an in-memory
 * database when no file is configured. WAL: the console's reads never wait for the event writer.
 */
export function openShieldDatabase(file: string | undefined): SqliteDatabase {
  let db: Database.Database;
  try {
    if (file) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file ?? ':memory:');
  } catch (e) {
    throw new Error(`storage.database ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (file) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 2000');
  return db;
}
