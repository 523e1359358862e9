import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/lifecycle.js';
import type { Config } from '../config/schema.js';
import type { ShieldBus } from '../shield/events.js';
import type { Detector } from '../shield/defence/detector.js';
import type { ShieldControl } from '../admin/server.js';
import { createConsoleRoutes, type AdminConsole } from '../admin/console-routes.js';
import { findConsoleDir, loadConsoleFiles, type StaticFile } from '../admin/console-static.js';
import { createStatusService, type StatusService } from '../status/service.js';
import { createStatusStore } from '../status/store.js';
import type { AttackPhase } from '../status/incident-rules.js';
import { openShieldDatabase } from './database.js';
import { createEventStore, type EventStore } from './event-store.js';
import { attachEventLog } from './event-log.js';
import { createChannelWatch } from './channels.js';
import { createLiveFeed } from './live.js';
import { createSessionStore } from './sessions.js';
import { createLearnedStore, type LearnedStore } from '../shield/defence/learned-store.js';
import { createOriginSessionStore } from '../shield/reputation/session-store.js';
import { createRosterStore } from '../shield/reputation/roster-store.js';
import type { ReputationRoster } from '../shield/reputation/roster.js';
import type { SessionTable } from '../shield/reputation/sessions.js';

/** The operator console and the public status page of one shield, with the services they run. */
export interface OperatorSurfaces {
  /** The status page (absent when disabled); its pages are answered by the shield's first filters. */
  readonly status: StatusService | undefined;
  readonly events: EventStore;
  /** The saved detection baselines (absent when detection is off). */
  readonly learned: LearnedStore | undefined;
  /** Services to register with the shield's lifecycle, in start order. */
  readonly services: ReadonlyArray<Service<Config>>;
  /** The console for the admin listener (absent when disabled). */
  adminConsole(x: { control: ShieldControl; setDryRun(on: boolean): void }): { routes: AdminConsole; audit(who: string, action: string, detail: string): void } | undefined;
}

/**
 * Builds the console and status page over the shield's bus and detector: one SQLite file (event
 * log, incidents, daily history), the authorization channel watch, the live feed. Wiring only.
 */
export function createOperatorSurfaces(d: {
  clock: Clock; bus: ShieldBus; config: () => Config; detector: Detector; log: Logger;
  /** Whether any server of an upstream can take traffic (the shield's health registry). */
  upstreamUp?: (upstream: string) => boolean | undefined;
  /** The sessions the origin issued, kept in the file across a restart (only with storage.database). */
  sessions?: SessionTable;
  /** The reputations presented and since when, kept in the file across a restart (only with storage.database), on the monotonic `ticker`. */
  roster?: { roster: ReputationRoster; ticker: Clock };
}): OperatorSurfaces {
  const { clock, bus, config } = d;
  const first = config();
  const db = openShieldDatabase(first.storage.database);
  if (!first.storage.database) d.log.info('storage.database not set: the event log and status history are kept in memory only');
  const events = createEventStore(db);
  const channels = createChannelWatch({
    url: () => config().console.authorizeUrl, clock,
    onChange: (r) => events.append({ at: clock.now(), type: 'channel', who: 'authorize', summary: `payment approval by ${r.mode} (app ${r.app}, SMS ${r.sms})`, detail: r }),
  });
  const phase = (): AttackPhase => (config().detection.enabled ? ((d.detector.state() as { phase?: AttackPhase }).phase ?? 'normal') : 'normal');
  const status = first.status.enabled
    ? createStatusService({ clock, bus, config, store: createStatusStore(db), attackPhase: phase, channels: () => channels.current(), events, ...(d.upstreamUp ? { upstreamUp: d.upstreamUp } : {}) })
    : undefined;

  let control: ShieldControl | undefined;
  const live = createLiveFeed({
    clock, bus,
    sources: {
      detection: () => (config().detection.enabled ? d.detector.state() as Record<string, unknown> : { enabled: false }),
      offenders: () => d.detector.offenders(),
      blocks: () => control?.listBlocks() ?? [],
      channels: () => channels.current() ?? null,
      upstreams: () => (control?.state() as { upstreams?: unknown } | undefined)?.upstreams ?? null,
    },
  });

  let detachLog: (() => void) | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const store: Service<Config> = {
    name: 'event-log',
    start() {
      detachLog = attachEventLog(bus, events, clock);
      events.append({ at: clock.now(), type: 'shield', who: 'shield', summary: 'shield started', detail: null });
      // One transaction per second; the event log keeps as long as the status history.
      let purgedAt = -Infinity;
      sweeper = setInterval(() => {
        try {
          events.flush();
          if (clock.now() - purgedAt >= 3_600_000) {
            purgedAt = clock.now();
            events.purgeBefore(purgedAt - config().status.historyDays * 86_400_000);
          }
        } catch (e) { d.log.error({ err: (e as Error).message }, 'event log write failed'); }
      }, 1000);
      sweeper.unref();
    },
    stop() {
      clearInterval(sweeper);
      detachLog?.();
      events.append({ at: clock.now(), type: 'shield', who: 'shield', summary: 'shield stopped', detail: null });
      events.flush();
      db.close();
    },
  };
  const services: Array<Service<Config>> = [store, channels];
  if (status) services.push(status);
  services.push(live);
  // Last: it stops first, saving the baselines before the event log's service closes the file.
  const learned = first.detection.enabled ? createLearnedStore({ db, detector: d.detector, clock, log: d.log }) : undefined;
  if (learned) services.push(learned);
  if (d.sessions && first.storage.database && first.detection.enabled) services.push(createOriginSessionStore({ db, sessions: d.sessions, clock, log: d.log }));
  if (d.roster && first.storage.database && first.detection.enabled && first.detection.wokenReputations) {
    services.push(createRosterStore({ db, roster: d.roster.roster, ticker: d.roster.ticker, clock, log: d.log, attackSince: () => d.detector.challengingSince() }));
  }

  let files: Map<string, StaticFile> | undefined;
  return {
    status,
    events,
    learned,
    services,
    adminConsole(x) {
      control = x.control;
      if (!config().console.enabled) return undefined;
      const audit = (who: string, action: string, detail: string): void => events.append({ at: clock.now(), type: 'operator', who, summary: `${action}${detail ? `: ${detail}` : ''}`, detail: { action, detail } });
      const routes = createConsoleRoutes({
        clock,
        token: () => config().admin.token,
        operators: () => config().console.operators,
        sessionTtlS: () => config().console.sessionTtlS,
        sessions: createSessionStore({ clock, ttlMs: () => config().console.sessionTtlS * 1000, random: (n) => randomBytes(n).toString('base64url') }),
        live, events, status,
        channels: () => channels.current() ?? null,
        offenders: () => d.detector.offenders(),
        dryRun: () => config().detection.dryRun,
        setDryRun(on, who, reason) {
          audit(who, on ? 'dry-run-on' : 'dry-run-off', reason);
          x.setDryRun(on);
        },
        challengeScope: config().detection.enabled ? (dimension, value, ttlS, who, reason) => d.detector.challengeScope(dimension, value, ttlS, who, reason) : undefined,
        audit,
        // Loaded on first use, and again while missing (a build may finish after start).
        files: () => (files && files.size > 0 ? files : (files = loadConsoleFiles(findConsoleDir()))),
      });
      return { routes, audit };
    },
  };
}
