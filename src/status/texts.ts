import type { ComponentState } from './component-state.js';

/**
 * The words of the public status page and of the incidents it opens by itself, in the page's
 * language (`status.language`): a French bank's customers read its status page in French. The
 * operator's own words (its name, components, incidents posted through the admin API) are shown
 * as written. Automatic incidents keep the language they were opened in.
 */
export type StatusLanguage = 'en' | 'fr';

export interface StatusTexts {
  readonly label: Readonly<Record<ComponentState, string>>;
  readonly overall: Readonly<Record<ComponentState, string>>;
  readonly availableSeeIncident: string;
  readonly noDisruption: (days: number) => string;
  readonly disruptedDays: (bad: number, days: number) => string;
  readonly noData: string;
  readonly ongoing: string;
  readonly resolved: string;
  readonly started: string;
  readonly resolvedAt: string;
  readonly pageTitle: string;
  readonly currentIncidents: string;
  readonly services: string;
  readonly pastIncidents: (days: number) => string;
  readonly noIncidents: string;
  readonly updated: string;
  readonly feed: string;
  readonly feedTitle: string;
  readonly resolvedTag: string;
  /** Update statuses as shown (investigating, identified, monitoring, update, resolved). */
  readonly updateStatus: (status: string) => string;
  readonly attackTitle: string;
  readonly attackOpen: string;
  readonly attackRecovering: string;
  readonly attackResolved: string;
  readonly componentUnavailableTitle: (name: string) => string;
  readonly componentDegradedTitle: (name: string) => string;
  readonly componentUnavailable: (name: string) => string;
  readonly workingOnIt: string;
  readonly componentDegraded: (name: string, failingPercent: number | undefined) => string;
  readonly componentBack: (name: string) => string;
}

const capitalised = (s: string): string => (s[0]?.toUpperCase() ?? '') + s.slice(1);

export const STATUS_TEXTS: Readonly<Record<StatusLanguage, StatusTexts>> = Object.freeze({
  en: {
    label: { operational: 'Operational', degraded: 'Degraded', outage: 'Unavailable' },
    overall: { operational: 'All services are operating normally', degraded: 'Some services are degraded', outage: 'Some services are unavailable' },
    availableSeeIncident: 'All services are available — see the current incident below',
    noDisruption: (days) => `No disruption in the last ${days} days`,
    disruptedDays: (bad, days) => `${bad} day${bad > 1 ? 's' : ''} with disruption in the last ${days} days`,
    noData: 'no data',
    ongoing: 'Ongoing', resolved: 'Resolved', started: 'started', resolvedAt: 'resolved',
    pageTitle: 'service status',
    currentIncidents: 'Current incidents', services: 'Services',
    pastIncidents: (days) => `Past incidents (${days} days)`,
    noIncidents: 'No incidents.', updated: 'Updated', feed: 'Atom feed', feedTitle: 'Incidents', resolvedTag: '[Resolved] ',
    updateStatus: capitalised,
    attackTitle: 'Unusually heavy traffic: protection measures active',
    attackOpen: 'We are receiving an unusually high volume of traffic. Protection measures are active: '
      + 'some visitors may be asked to wait a few seconds while their browser is checked. Services stay available.',
    attackRecovering: 'Traffic is decreasing. Protection measures stay active while we keep watching.',
    attackResolved: 'Traffic is back to normal. Protection measures have been lifted.',
    componentUnavailableTitle: (name) => `${name} unavailable`,
    componentDegradedTitle: (name) => `${name} degraded`,
    componentUnavailable: (name) => `${name} is unavailable.`,
    workingOnIt: 'We are working on it.',
    componentDegraded: (name, pct) => `${name} is slower or less reliable than usual${pct === undefined ? '' : ` (${pct}% of requests failing)`}. We are working on it.`,
    componentBack: (name) => `${name} is working normally again.`,
  },
  fr: {
    label: { operational: 'Opérationnel', degraded: 'Perturbé', outage: 'Indisponible' },
    overall: { operational: 'Tous les services fonctionnent normalement', degraded: 'Certains services sont perturbés', outage: 'Certains services sont indisponibles' },
    availableSeeIncident: 'Tous les services sont disponibles — voir l’incident en cours ci-dessous',
    noDisruption: (days) => `Aucune perturbation ces ${days} derniers jours`,
    disruptedDays: (bad, days) => `${bad} jour${bad > 1 ? 's' : ''} de perturbation ces ${days} derniers jours`,
    noData: 'pas de données',
    ongoing: 'En cours', resolved: 'Résolu', started: 'début', resolvedAt: 'résolu',
    pageTitle: 'état des services',
    currentIncidents: 'Incidents en cours', services: 'Services',
    pastIncidents: (days) => `Incidents passés (${days} jours)`,
    noIncidents: 'Aucun incident.', updated: 'Mis à jour', feed: 'Flux Atom', feedTitle: 'Incidents', resolvedTag: '[Résolu] ',
    updateStatus: (s) => ({ investigating: 'Analyse en cours', identified: 'Cause identifiée', monitoring: 'Sous surveillance', update: 'Mise à jour', resolved: 'Résolu' })[s] ?? capitalised(s),
    attackTitle: 'Trafic inhabituellement élevé : mesures de protection actives',
    attackOpen: 'Nous recevons un volume de trafic inhabituellement élevé. Des mesures de protection sont actives : '
      + 'certains visiteurs peuvent devoir patienter quelques secondes pendant la vérification de leur navigateur. Les services restent disponibles.',
    attackRecovering: 'Le trafic diminue. Les mesures de protection restent actives pendant que nous surveillons.',
    attackResolved: 'Le trafic est revenu à la normale. Les mesures de protection ont été levées.',
    componentUnavailableTitle: (name) => `${name} indisponible`,
    componentDegradedTitle: (name) => `${name} perturbé`,
    componentUnavailable: (name) => `${name} est indisponible.`,
    workingOnIt: 'Nos équipes sont mobilisées.',
    componentDegraded: (name, pct) => `${name} est plus lent ou moins fiable que d’habitude${pct === undefined ? '' : ` (${pct} % des requêtes en échec)`}. Nos équipes sont mobilisées.`,
    componentBack: (name) => `${name} fonctionne de nouveau normalement.`,
  },
});
