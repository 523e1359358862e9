import type { ComponentState } from './component-state.js';
import type { Incident } from './store.js';
import { STATUS_TEXTS, type StatusLanguage } from './texts.js';

/** Everything the public status page shows, as plain data (also served as /status.json). */
export interface StatusView {
  readonly operator: string;
  readonly generatedAt: number;
  /** The page's own path (links between page, JSON and feed). */
  readonly path: string;
  readonly overall: ComponentState;
  readonly components: ReadonlyArray<{
    readonly id: string;
    readonly name: string;
    readonly state: ComponentState;
    /** Worst state per day, oldest first, `historyDays` of them; null where nothing was recorded. */
    readonly history: ReadonlyArray<{ readonly day: string; readonly worst: ComponentState | null }>;
  }>;
  /** Open incidents first, then those resolved within the history window; newest first. */
  readonly incidents: readonly Incident[];
  readonly historyDays: number;
  /** The page's language (`status.language`; English when absent). */
  readonly language?: StatusLanguage;
}

/** Marks also carry the state in text and shape, never in colour alone (WCAG 1.4.1). */
const MARK: Record<ComponentState, string> = { operational: '✓', degraded: '!', outage: '✕' };

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
const iso = (ms: number): string => new Date(ms).toISOString();
const human = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The page itself: no JavaScript, no external resource, readable on a phone and by a screen reader. */
export function renderStatusHtml(v: StatusView): string {
  const language = v.language ?? 'en';
  const t = STATUS_TEXTS[language];
  const open = v.incidents.filter((i) => i.resolvedAt === null);
  const past = v.incidents.filter((i) => i.resolvedAt !== null);
  // Services can all work while an incident is open (an attack the shield absorbs): say both.
  const banner = v.overall === 'operational' && open.length > 0 ? t.availableSeeIncident : t.overall[v.overall];
  const bannerClass = v.overall === 'operational' && open.length > 0 ? 'notice' : v.overall;
  const components = v.components.map((c) => {
    const bad = c.history.filter((d) => d.worst !== null && d.worst !== 'operational').length;
    const cells = c.history.map((d) => `<span class="d ${d.worst ?? 'none'}" title="${d.day}: ${d.worst ? t.label[d.worst] : t.noData}"></span>`).join('');
    return `<li class="c ${c.state}" id="component-${esc(c.id)}"><div class="row"><span class="name">${esc(c.name)}</span>`
      + `<span class="state" data-state="${c.state}"><span aria-hidden="true">${MARK[c.state]}</span> ${t.label[c.state]}</span></div>`
      + `<div class="bar" aria-hidden="true">${cells}</div>`
      + `<p class="sr">${bad === 0 ? t.noDisruption(v.historyDays) : t.disruptedDays(bad, v.historyDays)}</p></li>`;
  }).join('');
  const incident = (i: Incident): string => `<article class="incident ${i.impact}${i.resolvedAt === null ? ' open' : ''}" id="incident-${i.id}">`
    + `<h3>${esc(i.title)}</h3><p class="meta"><strong>${i.resolvedAt === null ? t.ongoing : t.resolved}</strong> · ${t.started} ${human(i.openedAt)}`
    + `${i.resolvedAt !== null ? ` · ${t.resolvedAt} ${human(i.resolvedAt)}` : ''}</p><ol class="updates">`
    + i.updates.map((u) => `<li><strong>${esc(t.updateStatus(u.status))}</strong> — ${esc(u.message)} <time datetime="${iso(u.at)}">${human(u.at)}</time></li>`).join('')
    + '</ol></article>';
  return `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(v.operator)} — ${t.pageTitle}</title>
<link rel="alternate" type="application/atom+xml" title="${t.feedTitle}" href="${esc(v.path)}.atom">
<style>
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f6f6f4}
body{max-width:46rem;margin:0 auto;padding:1rem;line-height:1.45}
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:0 0 .25rem}
.banner{padding:1rem;border-radius:.5rem;font-weight:600;color:#fff}
.banner.operational{background:#1e6b35}.banner.notice{background:#0b4f9c}.banner.degraded{background:#8a4b00}.banner.outage{background:#a51d1d}
ul.cs{list-style:none;padding:0;margin:0;background:#fff;border:1px solid #d0d0cc;border-radius:.5rem}
li.c{padding:.75rem 1rem;border-top:1px solid #e4e4e0}li.c:first-child{border-top:0}
.row{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}.name{font-weight:600}
.state[data-state=operational]{color:#1e6b35}.state[data-state=degraded]{color:#8a4b00}.state[data-state=outage]{color:#a51d1d}.state{font-weight:600}
.bar{display:flex;gap:1px;margin-top:.5rem;height:1.4rem}.d{flex:1;border-radius:1px;background:#c9c9c4}
.d.operational{background:#3c9a5a}.d.degraded{background:#d08a1c}.d.outage{background:#c23a3a}
.sr{margin:.25rem 0 0;font-size:.85rem;color:#4a4a4a}
.incident{background:#fff;border:1px solid #d0d0cc;border-left:.35rem solid #8a8a85;border-radius:.5rem;padding:.75rem 1rem;margin:.5rem 0}
.incident.open.minor{border-left-color:#d08a1c}.incident.open.major{border-left-color:#c23a3a}
.meta{margin:0 0 .5rem;font-size:.9rem;color:#4a4a4a}.updates{margin:0;padding-left:1.2rem}.updates li{margin:.25rem 0}
time{color:#4a4a4a;font-size:.85rem;white-space:nowrap}
footer{margin:2rem 0 1rem;font-size:.85rem;color:#4a4a4a}a{color:#0b4f9c}
</style></head><body>
<header><h1>${esc(v.operator)} — ${t.pageTitle}</h1>
<p class="banner ${bannerClass}" role="status">${banner}</p></header>
<main>
${open.length ? `<section aria-labelledby="h-open"><h2 id="h-open">${t.currentIncidents}</h2>${open.map(incident).join('')}</section>` : ''}
<section aria-labelledby="h-components"><h2 id="h-components">${t.services}</h2><ul class="cs">${components}</ul></section>
<section aria-labelledby="h-past"><h2 id="h-past">${t.pastIncidents(v.historyDays)}</h2>${past.length ? past.map(incident).join('') : `<p>${t.noIncidents}</p>`}</section>
</main>
<footer>${t.updated} ${human(v.generatedAt)} · <a href="${esc(v.path)}.atom">${t.feed}</a> · <a href="${esc(v.path)}.json">JSON</a></footer>
</body></html>
`;
}

/** The same view as JSON, for monitors and apps. */
export function renderStatusJson(v: StatusView): string {
  return JSON.stringify({
    operator: v.operator,
    generatedAt: iso(v.generatedAt),
    overall: v.overall,
    components: v.components.map((c) => ({ id: c.id, name: c.name, state: c.state, history: c.history })),
    incidents: v.incidents.map((i) => ({
      id: i.id, title: i.title, impact: i.impact, component: i.component, automatic: i.key !== null,
      status: i.resolvedAt === null ? 'open' : 'resolved', openedAt: iso(i.openedAt), resolvedAt: i.resolvedAt === null ? null : iso(i.resolvedAt),
      updates: i.updates.map((u) => ({ at: iso(u.at), status: u.status, message: u.message })),
    })),
  });
}

/** Incidents as an Atom feed (RFC 4287): one entry per incident, its updates as the content. */
export function renderStatusAtom(v: StatusView): string {
  const slug = v.operator.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'status';
  // The feed changes when an incident does, not on every render (feed readers poll with If-Modified-Since).
  const feedUpdated = v.incidents.length ? Math.max(...v.incidents.map((i) => i.updates[0]?.at ?? i.openedAt)) : v.generatedAt;
  const entries = v.incidents.map((i) => `<entry>
<id>urn:rempart:status:${slug}:incident:${i.id}</id>
<title>${esc(`${i.resolvedAt === null ? '' : STATUS_TEXTS[v.language ?? 'en'].resolvedTag}${i.title}`)}</title>
<updated>${iso(i.updates[0]?.at ?? i.openedAt)}</updated>
<published>${iso(i.openedAt)}</published>
<link rel="alternate" type="text/html" href="${esc(v.path)}#incident-${i.id}"/>
<content type="text">${esc(i.updates.map((u) => `${human(u.at)} ${u.status}: ${u.message}`).join('\n'))}</content>
</entry>`).join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<id>urn:rempart:status:${slug}</id>
<title>${esc(v.operator)} — incidents</title>
<updated>${iso(feedUpdated)}</updated>
<author><name>${esc(v.operator)}</name></author>
<link rel="self" type="application/atom+xml" href="${esc(v.path)}.atom"/>
<link rel="alternate" type="text/html" href="${esc(v.path)}"/>
${entries}
</feed>
`;
}
