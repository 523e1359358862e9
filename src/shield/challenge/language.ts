/**
 * The interstitial's language. A French bank's customers met an English page at the worst moment
 * of an attack; the page now speaks the language the browser asks for among those it has, English
 * when none matches (RFC 9110 §12.5.4 Accept-Language, RFC 4647 §3.3.1 basic filtering on the
 * primary subtag: `fr-CA` and `fr` both read French). Pure.
 */

import { qWeight } from '../http-message.js';

export type PageLanguage = 'en' | 'fr';

/** Every text the interstitial shows, page and script. `{s}` and `{t}` are filled in. */
export interface InterstitialTexts {
  readonly title: string;
  readonly heading: string;
  readonly why: string;
  readonly working: string;
  /** `{s}`: seconds before coming back. */
  readonly noscript: string;
  readonly noCookies: string;
  readonly noWorkers: string;
  /** `{t}`: seconds the work took. */
  readonly done: string;
  readonly failed: string;
}

export const INTERSTITIAL_TEXTS: Readonly<Record<PageLanguage, InterstitialTexts>> = Object.freeze({
  en: {
    title: 'Checking your browser',
    heading: 'One moment: checking your browser',
    why: 'This site is receiving an unusual amount of traffic. To keep it available, your browser proves it is not part of an automated flood by doing a few seconds of computation. Nothing is installed and no personal data is collected.',
    working: 'Working…',
    noscript: '<strong>JavaScript is disabled.</strong> This check needs JavaScript and cookies for a few seconds. Enable JavaScript for this site and reload the page, or come back in about {s} seconds: the check is only active while the site is under attack.',
    noCookies: 'Your browser refuses cookies. This check stores its result in a cookie: allow cookies for this site, then reload.',
    noWorkers: 'Your browser cannot run this check (Web Workers are unavailable). Please come back later.',
    done: 'Done in {t} s. Continuing…',
    failed: 'The check failed in this browser. Please reload the page.',
  },
  fr: {
    title: 'Vérification de votre navigateur',
    heading: 'Un instant : vérification de votre navigateur',
    why: 'Ce site reçoit un trafic inhabituel. Pour qu’il reste accessible, votre navigateur prouve qu’il ne participe pas à une attaque automatisée en effectuant quelques secondes de calcul. Rien n’est installé et aucune donnée personnelle n’est collectée.',
    working: 'Calcul en cours…',
    noscript: '<strong>JavaScript est désactivé.</strong> Cette vérification a besoin de JavaScript et des cookies pendant quelques secondes. Activez JavaScript pour ce site et rechargez la page, ou revenez dans environ {s} secondes : la vérification n’est active que pendant une attaque.',
    noCookies: 'Votre navigateur refuse les cookies. Cette vérification enregistre son résultat dans un cookie : autorisez les cookies pour ce site, puis rechargez la page.',
    noWorkers: 'Votre navigateur ne peut pas effectuer cette vérification (Web Workers indisponibles). Merci de revenir plus tard.',
    done: 'Terminé en {t} s. Redirection…',
    failed: 'La vérification a échoué dans ce navigateur. Merci de recharger la page.',
  },
});

const LANGUAGES: readonly PageLanguage[] = ['en', 'fr'];
/** Elements read of an Accept-Language at most (a browser sends a handful; a forged one may send hundreds). */
const MAX_RANGES = 32;

/**
 * The page language for an Accept-Language: the supported one with the highest weight (the first
 * listed among equals), English when none is acceptable or the header is absent. `*` stands for
 * any language not listed; a weight of 0 refuses.
 */
export function pageLanguage(acceptLanguage: string | string[] | undefined): PageLanguage {
  if (acceptLanguage === undefined) return 'en';
  const value = Array.isArray(acceptLanguage) ? acceptLanguage.join(',') : acceptLanguage;
  let best: PageLanguage = 'en';
  let bestQ = 0;
  let star = -1;
  const named = new Map<PageLanguage, number>();
  let n = 0;
  for (const element of value.split(',')) {
    if (++n > MAX_RANGES) break;
    const semi = element.indexOf(';');
    const range = (semi === -1 ? element : element.slice(0, semi)).trim().toLowerCase();
    if (range === '') continue;
    const q = semi === -1 ? 1 : qWeight(element.slice(semi + 1));
    if (range === '*') { if (star < 0) star = q; continue; }
    const dash = range.indexOf('-');
    const primary = (dash === -1 ? range : range.slice(0, dash)) as PageLanguage;
    if (!LANGUAGES.includes(primary) || named.has(primary)) continue;
    named.set(primary, q);
    if (q > bestQ) { best = primary; bestQ = q; }
  }
  if (bestQ > 0) return best;
  // Only `*` accepts something: the first supported language it covers.
  if (star > 0) for (const l of LANGUAGES) if (!named.has(l)) return l;
  return 'en';
}
