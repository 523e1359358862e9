import type { SqliteDatabase } from '../console/database.js';
import type { Impact } from './incident-rules.js';

/** Where an incident stands in its updates (the words status pages commonly use). */
export const UPDATE_STATUSES = ['investigating', 'identified', 'monitoring', 'update', 'resolved'] as const;
export type UpdateStatus = (typeof UPDATE_STATUSES)[number];

/** One message posted on an incident. */
export interface IncidentUpdate {
  readonly at: number;
  readonly status: UpdateStatus;
  readonly message: string;
  /** "automatic" for the shield's own updates, else the operator. */
  readonly who: string;
}

/** An incident with its updates, newest update first. */
export interface Incident {
  readonly id: number;
  /** For automatic incidents: "attack" or "component:<id>"; null for an operator's. */
  readonly key: string | null;
  readonly component: string | null;
  readonly title: string;
  readonly impact: Impact;
  readonly openedAt: number;
  readonly resolvedAt: number | null;
  readonly updates: readonly IncidentUpdate[];
}

/** The status page's history port. */
export interface StatusStore {
  open(i: { key: string | null; component: string | null; title: string; impact: Impact; at: number; message: string; who: string; status?: UpdateStatus }): number;
  update(id: number, u: IncidentUpdate & { impact?: Impact }): boolean;
  /** Incidents open now, and those resolved since `since` (ms), newest first. */
  incidents(since: number): Incident[];
  get(id: number): Incident | undefined;
  /** Raises a component's worst state of one day (0 operational … 2 outage). */
  markDay(component: string, day: string, rank: number): void;
  /** Worst state per component and day since `sinceDay` (YYYY-MM-DD). */
  days(sinceDay: string): Array<{ component: string; day: string; worst: number }>;
  /** Forgets incidents resolved, and days, before these bounds. */
  purge(before: number, beforeDay: string): void;
}

interface IncidentRow { id: number; key: string | null; component: string | null; title: string; impact: Impact; opened_at: number; resolved_at: number | null }

/** The status history in SQLite (incidents, their updates, worst state per component and day). */
export function createStatusStore(db: SqliteDatabase): StatusStore {
  db.exec(`CREATE TABLE IF NOT EXISTS status_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT, component TEXT, title TEXT NOT NULL, impact TEXT NOT NULL,
    opened_at INTEGER NOT NULL, resolved_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS status_incidents_open ON status_incidents(resolved_at);
  CREATE TABLE IF NOT EXISTS status_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES status_incidents(id) ON DELETE CASCADE,
    at INTEGER NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, who TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS status_updates_incident ON status_updates(incident_id);
  CREATE TABLE IF NOT EXISTS status_days (
    component TEXT NOT NULL, day TEXT NOT NULL, worst INTEGER NOT NULL, PRIMARY KEY (component, day)
  );`);
  db.pragma('foreign_keys = ON');
  const insIncident = db.prepare('INSERT INTO status_incidents (key, component, title, impact, opened_at) VALUES (?, ?, ?, ?, ?)');
  const insUpdate = db.prepare('INSERT INTO status_updates (incident_id, at, status, message, who) VALUES (?, ?, ?, ?, ?)');
  const resolve = db.prepare('UPDATE status_incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL');
  const setImpact = db.prepare('UPDATE status_incidents SET impact = ? WHERE id = ?');
  const selIncidents = db.prepare('SELECT * FROM status_incidents WHERE resolved_at IS NULL OR resolved_at >= ? ORDER BY opened_at DESC, id DESC');
  const selOne = db.prepare('SELECT * FROM status_incidents WHERE id = ?');
  const selUpdates = db.prepare('SELECT at, status, message, who FROM status_updates WHERE incident_id = ? ORDER BY at DESC, id DESC');
  const upDay = db.prepare('INSERT INTO status_days (component, day, worst) VALUES (?, ?, ?) ON CONFLICT(component, day) DO UPDATE SET worst = MAX(worst, excluded.worst)');
  const selDays = db.prepare('SELECT component, day, worst FROM status_days WHERE day >= ? ORDER BY day');
  const purgeIncidents = db.prepare('DELETE FROM status_incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?');
  const purgeDays = db.prepare('DELETE FROM status_days WHERE day < ?');

  const withUpdates = (r: IncidentRow): Incident => ({
    id: r.id, key: r.key, component: r.component, title: r.title, impact: r.impact, openedAt: r.opened_at, resolvedAt: r.resolved_at,
    updates: selUpdates.all(r.id) as IncidentUpdate[],
  });

  const open = db.transaction((i: Parameters<StatusStore['open']>[0]): number => {
    const id = Number(insIncident.run(i.key, i.component, i.title, i.impact, i.at).lastInsertRowid);
    insUpdate.run(id, i.at, i.status ?? 'investigating', i.message, i.who);
    return id;
  });
  const update = db.transaction((id: number, u: IncidentUpdate & { impact?: Impact }): boolean => {
    const row = selOne.get(id) as IncidentRow | undefined;
    if (!row || row.resolved_at !== null) return false;
    insUpdate.run(id, u.at, u.status, u.message, u.who);
    if (u.impact) setImpact.run(u.impact, id);
    if (u.status === 'resolved') resolve.run(u.at, id);
    return true;
  });

  return {
    open: (i) => open(i),
    update: (id, u) => update(id, u),
    incidents: (since) => (selIncidents.all(since) as IncidentRow[]).map(withUpdates),
    get(id) {
      const r = selOne.get(id) as IncidentRow | undefined;
      return r ? withUpdates(r) : undefined;
    },
    markDay(component, day, rank) { upDay.run(component, day, rank); },
    days: (sinceDay) => selDays.all(sinceDay) as Array<{ component: string; day: string; worst: number }>,
    purge(before, beforeDay) { purgeIncidents.run(before); purgeDays.run(beforeDay); },
  };
}
