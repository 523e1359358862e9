import type { Clock } from '../core/clock.js';
import type { Service } from '../core/lifecycle.js';
import type { Config, StatusComponentConfig } from '../config/schema.js';
import type { ShieldBus } from '../shield/events.js';
import type { PreparedResponse } from '../shield/verdict.js';
import type { ChannelReading } from '../console/channels.js';
import type { EventStore } from '../console/event-store.js';
import { COMPONENT_STATES, judgeComponent, stateRank, type ComponentState, type Judgement } from './component-state.js';
import { incidentActions, type AttackPhase, type Impact, type OpenAuto } from './incident-rules.js';
import { renderStatusAtom, renderStatusHtml, renderStatusJson, type StatusView } from './render.js';
import { STATUS_TEXTS } from './texts.js';
import type { Incident, StatusStore, UpdateStatus } from './store.js';

const WINDOW_S = 30;
const DAY_MS = 86_400_000;
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** What the status service reads from the rest of the shield. */
export interface StatusDeps {
  clock: Clock;
  bus: ShieldBus;
  config: () => Config;
  store: StatusStore;
  /** Worst attack phase over route classes now. */
  attackPhase: () => AttackPhase;
  channels: () => ChannelReading | undefined;
  /** Whether any server of an upstream can take traffic (health checks); undefined for an unknown upstream. */
  upstreamUp?: (upstream: string) => boolean | undefined;
  events?: EventStore;
}

/** The status page service: judges components every second, keeps incidents, serves pages from memory. */
export interface StatusService extends Service<Config> {
  /** The prepared answer for a path (HTML, JSON or Atom), or undefined if the path is not a status page. */
  page(path: string): PreparedResponse | undefined;
  /** One evaluation step now (the service's timer calls it every second; tests call it directly). */
  tick(): void;
  view(): StatusView;
  incidents(): Incident[];
  /** An operator opens an incident (written words, optional component). */
  open(i: { title: string; message: string; impact: Impact; component?: string | undefined; status?: UpdateStatus | undefined; who: string }): Incident;
  /** An operator posts an update (status "resolved" closes it); undefined when no open incident has that id. */
  post(id: number, u: { message: string; status: UpdateStatus; who: string; impact?: Impact | undefined }): Incident | undefined;
}

interface ComponentWindow {
  cfg: StatusComponentConfig;
  requests: Int32Array;
  failures: Int32Array;
  judgement: Judgement;
}

/** Whether a finished exchange counts for a component's health, and whether it failed. */
function classify(ctx: { verdict: { kind: string } | undefined; errorCode: string | undefined; cacheState: string | undefined }, status: number): 'ok' | 'failed' | undefined {
  const v = ctx.verdict;
  // Refused by the shield (challenge, rate limit, block, bad request): says nothing about the service.
  if (v && v.kind !== 'allow' && v.kind !== 'cached' && v.kind !== 'shed') return undefined;
  if (v?.kind === 'shed') return 'failed';
  if (ctx.cacheState === 'STALE' || ctx.cacheState === 'HIT') return 'ok';
  if (ctx.errorCode !== undefined) return ctx.errorCode.startsWith('RMP_ERR_UPSTREAM') || ctx.errorCode === 'RMP_ERR_QUEUE_TIMEOUT' ? 'failed' : undefined;
  return status >= 500 ? 'failed' : 'ok';
}

/** Creates the status service (a lifecycle service: its timer starts with the shield). */
export function createStatusService(d: StatusDeps): StatusService {
  const { clock, store } = d;
  let cfg = d.config().status;
  let windows: ComponentWindow[] = [];
  let prefixes: Array<{ prefix: string; index: number }> = [];
  let slot = Math.floor(clock.now() / 1000);
  const openAuto = new Map<string, OpenAuto & { id: number }>();
  const dayMarks = new Map<string, number>();
  let incidents: Incident[] = [];
  let pages = new Map<string, PreparedResponse>();
  let reloadedAt = -Infinity;
  let purgedDay = '';
  let timer: NodeJS.Timeout | undefined;
  let off: (() => void) | undefined;

  const configure = (c: Config): void => {
    const previous = new Map(windows.map((w) => [w.cfg.id, w.judgement]));
    cfg = c.status;
    windows = cfg.components.map((component) => ({
      cfg: component, requests: new Int32Array(WINDOW_S), failures: new Int32Array(WINDOW_S),
      judgement: previous.get(component.id) ?? { state: 'operational', cause: '' },
    }));
    // Longest prefix first: /bank/ before /.
    prefixes = windows.flatMap((w, index) => w.cfg.paths.map((prefix) => ({ prefix, index }))).sort((a, b) => b.prefix.length - a.prefix.length);
  };
  configure(d.config());

  const reloadIncidents = (): void => {
    reloadedAt = clock.now();
    incidents = store.incidents(reloadedAt - cfg.historyDays * DAY_MS);
  };
  // Automatic incidents left open by a previous run are picked up again (they close on recovery).
  const adoptOpen = (): void => {
    openAuto.clear();
    for (const i of incidents) {
      if (i.resolvedAt === null && i.key !== null) {
        const stage = i.key === 'attack' ? (i.updates.some((u) => u.message.startsWith('Traffic is decreasing')) ? 'recovering' : 'under_attack') : (i.impact === 'major' ? 'outage' : 'degraded');
        openAuto.set(i.key, { id: i.id, stage });
      }
    }
  };

  const advanceSlot = (now: number): void => {
    const s = Math.floor(now / 1000);
    if (s === slot) return;
    const steps = Math.min(WINDOW_S, s - slot);
    for (let k = 1; k <= steps; k++) {
      const i = (slot + k) % WINDOW_S;
      for (const w of windows) { w.requests[i] = 0; w.failures[i] = 0; }
    }
    slot = s;
  };

  const record = (path: string, outcome: 'ok' | 'failed', now: number): void => {
    for (const p of prefixes) {
      if (!path.startsWith(p.prefix)) continue;
      if (Math.floor(now / 1000) !== slot) advanceSlot(now);
      const w = windows[p.index] as ComponentWindow;
      const i = slot % WINDOW_S;
      w.requests[i] = (w.requests[i] as number) + 1;
      if (outcome === 'failed') w.failures[i] = (w.failures[i] as number) + 1;
      return;
    }
  };

  const logIncident = (summary: string, detail: unknown, who: string): void => d.events?.append({ at: clock.now(), type: 'incident', who, summary, detail });

  const buildView = (now: number): StatusView => {
    const first = now - (cfg.historyDays - 1) * DAY_MS;
    const byKey = new Map<string, number>();
    for (const r of store.days(dayOf(first))) byKey.set(`${r.component}|${r.day}`, r.worst);
    const days: string[] = [];
    for (let t = first; days.length < cfg.historyDays; t += DAY_MS) days.push(dayOf(t));
    const components = windows.map((w) => ({
      id: w.cfg.id, name: w.cfg.name, state: w.judgement.state,
      history: days.map((day) => {
        const r = byKey.get(`${w.cfg.id}|${day}`);
        return { day, worst: r === undefined ? null : (COMPONENT_STATES[r] ?? null) };
      }),
    }));
    const worst = components.reduce((m, c) => Math.max(m, stateRank(c.state)), 0);
    return { operator: cfg.operator, generatedAt: now, path: cfg.path, overall: COMPONENT_STATES[worst] as ComponentState, components, incidents, historyDays: cfg.historyDays, language: cfg.language };
  };

  const render = (): void => {
    const v = buildView(clock.now());
    const common = { 'cache-control': 'public, max-age=5', 'x-content-type-options': 'nosniff' };
    const next = new Map<string, PreparedResponse>();
    next.set(cfg.path, { status: 200, headers: { ...common, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" }, body: Buffer.from(renderStatusHtml(v)) });
    next.set(`${cfg.path}.json`, { status: 200, headers: { ...common, 'content-type': 'application/json', 'access-control-allow-origin': '*' }, body: Buffer.from(renderStatusJson(v)) });
    next.set(`${cfg.path}.atom`, { status: 200, headers: { ...common, 'content-type': 'application/atom+xml; charset=utf-8' }, body: Buffer.from(renderStatusAtom(v)) });
    pages = next;
  };

  const self: StatusService = {
    name: 'status',
    start() {
      reloadIncidents();
      adoptOpen();
      off = d.bus.on('request:end', ({ ctx, status }) => {
        if (prefixes.length === 0) return;
        const outcome = classify(ctx, status);
        if (outcome) record(ctx.path, outcome, clock.now());
      });
      render();
      timer = setInterval(() => self.tick(), 1000);
      timer.unref();
    },
    reload(next) { configure(next); render(); },
    stop() { clearInterval(timer); off?.(); },
    page: (path) => pages.get(path),
    tick() {
      const now = clock.now();
      advanceSlot(now);
      const channels = d.channels();
      for (const w of windows) {
        let requests = 0;
        let failures = 0;
        for (let i = 0; i < WINDOW_S; i++) { requests += w.requests[i] as number; failures += w.failures[i] as number; }
        const channel = w.cfg.channel && channels ? channels[w.cfg.channel] : undefined;
        const upstreamUp = w.cfg.upstream ? d.upstreamUp?.(w.cfg.upstream) : undefined;
        w.judgement = judgeComponent({ requests, failures, channel, upstreamUp }, w.judgement, { degradedRatio: cfg.degradedFailureRatio, minRequests: 20 });
        const day = `${w.cfg.id}|${dayOf(now)}`;
        const rank = stateRank(w.judgement.state);
        if ((dayMarks.get(day) ?? -1) < rank) { dayMarks.set(day, rank); store.markDay(w.cfg.id, dayOf(now), rank); }
      }
      if (dayMarks.size > windows.length * 4) for (const k of [...dayMarks.keys()].slice(0, dayMarks.size - windows.length * 2)) dayMarks.delete(k);
      const actions = incidentActions(openAuto, d.attackPhase(), windows.map((w) => ({ id: w.cfg.id, name: w.cfg.name, downMessage: w.cfg.downMessage, judgement: w.judgement })), STATUS_TEXTS[cfg.language]);
      for (const a of actions) {
        if (a.kind === 'open') {
          const id = store.open({ key: a.key, component: a.component, title: a.title, impact: a.impact, at: now, message: a.message, who: 'automatic' });
          openAuto.set(a.key, { id, stage: a.stage });
          logIncident(`opened: ${a.title}`, { id, ...a }, 'status');
        } else {
          const o = openAuto.get(a.key);
          if (!o) continue;
          if (a.kind === 'update') {
            store.update(o.id, { at: now, status: 'update', message: a.message, who: 'automatic', impact: a.impact });
            openAuto.set(a.key, { id: o.id, stage: a.stage });
          } else {
            store.update(o.id, { at: now, status: 'resolved', message: a.message, who: 'automatic' });
            openAuto.delete(a.key);
            logIncident(`resolved: ${a.key}`, { id: o.id, ...a }, 'status');
          }
        }
      }
      // Re-read after changes, and once a minute so incidents past the history window leave the page.
      if (actions.length > 0 || now - reloadedAt >= 60_000) reloadIncidents();
      if (dayOf(now) !== purgedDay) {
        purgedDay = dayOf(now);
        store.purge(now - cfg.historyDays * DAY_MS, dayOf(now - cfg.historyDays * DAY_MS));
      }
      render();
    },
    view: () => buildView(clock.now()),
    incidents: () => incidents,
    open(i) {
      const now = clock.now();
      const id = store.open({ key: null, component: i.component ?? null, title: i.title, impact: i.impact, at: now, message: i.message, who: i.who, status: i.status ?? 'investigating' });
      logIncident(`opened by ${i.who}: ${i.title}`, { id, ...i }, i.who);
      reloadIncidents();
      render();
      return store.get(id) as Incident;
    },
    post(id, u) {
      if (!store.update(id, { at: clock.now(), status: u.status, message: u.message, who: u.who, ...(u.impact ? { impact: u.impact } : {}) })) return undefined;
      for (const [key, o] of openAuto) if (o.id === id && u.status === 'resolved') openAuto.delete(key);
      logIncident(`${u.status} by ${u.who} on incident ${id}: ${u.message}`, { id, ...u }, u.who);
      reloadIncidents();
      render();
      return store.get(id);
    },
  };
  return self;
}
