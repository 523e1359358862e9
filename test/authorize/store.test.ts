import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { openSqliteStore } from '../../src/authorize/store/sqlite-store.js';
import { startCheckpointer } from '../../src/authorize/store/checkpointer.js';
import { verifyAudit } from '../../src/authorize/audit/audit-chain.js';
import { parseAuthorizeConfig } from '../../src/authorize/config.js';
import { isConfigError } from '../../src/config/load.js';
import { tempDir } from './helpers.js';

const kinds = (db: Database.Database): string[] => (db.prepare('SELECT kind FROM audit ORDER BY seq').all() as Array<{ kind: string }>).map((r) => r.kind);

test('group commit: the steps of one turn share one commit, made before any answer; a failing step rolls back alone; afterCommit runs after it', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'authorize.db');
  const store = openSqliteStore(file, { synchronous: 'NORMAL' });
  t.after(() => store.close());
  const other = new Database(file, { readonly: true }); // another connection sees only what is committed
  t.after(() => other.close());

  store.tx(() => store.audit({ at: 1, kind: 'one' }));
  assert.throws(() => store.tx(() => { store.audit({ at: 2, kind: 'two' }); store.setSetting('k', 'rolled back'); throw new Error('step fails'); }), /step fails/);
  store.tx(() => { store.audit({ at: 3, kind: 'three' }); store.setSetting('k', 'kept'); });
  const seenAfterCommit: string[][] = [];
  store.afterCommit(() => seenAfterCommit.push(kinds(other)));
  assert.deepEqual(kinds(other), [], 'nothing is visible (nor durable) before the end of the turn');
  assert.deepEqual(kinds(store.db), ['one', 'three'], 'the failed step left nothing, even in the open transaction');
  await store.durable();
  assert.deepEqual(kinds(other), ['one', 'three']);
  assert.deepEqual(seenAfterCommit, [['one', 'three']], 'afterCommit ran once, after the commit');
  assert.equal(store.getSetting('k'), 'kept');
  const v = verifyAudit(other);
  assert.ok(v.ok && v.rows === 2, JSON.stringify(v)); // seq 1, 2: the rolled-back record left no gap, the head is right
  await store.durable(); // nothing pending: resolves at once
});

test('group commit: when the commit itself fails, every waiter of that turn is told, nothing of it stays, and the audit chain goes on intact', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'authorize.db');
  const errors: unknown[] = [];
  const store = openSqliteStore(file, { synchronous: 'NORMAL', onError: (e) => errors.push(e) });
  t.after(() => store.close());
  store.tx(() => store.audit({ at: 1, kind: 'before' }));
  await store.durable();
  // A deferred foreign key makes COMMIT (not the statement) fail: the shape of a commit-time error.
  store.db.pragma('foreign_keys = ON');
  store.db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
  store.tx(() => store.audit({ at: 2, kind: 'lost-a' }));
  store.tx(() => { store.db.prepare('INSERT INTO child (p) VALUES (42)').run(); store.audit({ at: 3, kind: 'lost-b' }); });
  let ran = false;
  store.afterCommit(() => { ran = true; });
  const waiters = [store.durable(), store.durable()];
  for (const w of waiters) await assert.rejects(w, /FOREIGN KEY/);
  assert.equal(errors.length, 1);
  assert.equal(ran, false, 'no side effect for writes that were not committed');
  assert.equal(store.db.inTransaction, false);
  assert.deepEqual(kinds(store.db), ['before']);
  store.tx(() => store.audit({ at: 4, kind: 'after' }));
  await store.durable();
  assert.deepEqual(kinds(store.db), ['before', 'after']);
  const v = verifyAudit(store.db);
  assert.ok(v.ok && v.rows === 2, JSON.stringify(v));
});

test('checkpoints on a worker: under steady commits the WAL starts over instead of growing with everything written', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'authorize.db');
  const store = openSqliteStore(file, { synchronous: 'NORMAL' });
  let backlogs = 0;
  const cp = startCheckpointer(file, { intervalMs: 50, resetFrames: 256 }, (m) => assert.fail(m), () => { backlogs++; store.checkpoint(); });
  t.after(async () => { await cp.stop(); store.close(); });
  const payload = 'x'.repeat(2_000);
  // The WAL header's salt changes each time the WAL starts over (SQLite file format §4.1).
  const salt = (): string => {
    const fd = openSync(`${file}-wal`, 'r');
    try { const b = Buffer.alloc(8); readSync(fd, b, 0, 8, 16); return b.toString('hex'); } finally { closeSync(fd); }
  };
  let resets = 0;
  let last = '';
  let walMax = 0;
  const end = Date.now() + 30_000;
  // Bounded in count and time: commits keep coming, one per turn, as under load.
  for (let i = 0; i < 8_000 && Date.now() < end && resets < 2; i++) {
    store.tx(() => store.audit({ at: i, kind: 'load', data: { payload } }));
    await store.durable();
    if (i % 10 !== 0) continue;
    const now = salt();
    if (last && now !== last) resets++;
    last = now;
    walMax = Math.max(walMax, statSync(`${file}-wal`).size);
  }
  assert.ok(backlogs >= 1, 'the worker reported a backlog');
  assert.ok(resets >= 2, `the WAL started over ${resets} time(s) (peak ${walMax} bytes)`);
  assert.ok(walMax < 64 * 1024 * 1024);
  assert.ok(verifyAudit(store.db).ok);
});

test('requester tokens: distinct from each other and from operator and admin tokens; a single token or a list', () => {
  const base = { adminToken: 'admin-token-0123456789', operators: { o1: 'operator-token-01234567' } };
  assert.deepEqual(parseAuthorizeConfig({ ...base, requesters: { a: 'requester-a-token-0123', b: ['requester-b-1-token-01', 'requester-b-2-token-02'] } }).requesters,
    { a: ['requester-a-token-0123'], b: ['requester-b-1-token-01', 'requester-b-2-token-02'] });
  for (const requesters of [{ a: 'admin-token-0123456789' }, { a: 'operator-token-01234567' }, { a: 'same-token-0123456789', b: ['same-token-0123456789'] }, { a: 'short' }, { 'bad id!': 'requester-a-token-0123' }]) {
    try {
      parseAuthorizeConfig({ ...base, requesters });
      assert.fail(`accepted ${JSON.stringify(requesters)}`);
    } catch (e) {
      assert.ok(isConfigError(e), String(e));
      assert.ok(e.problems.some((p) => p.path.startsWith('requesters')), JSON.stringify(e.problems));
    }
  }
});
