import type { IncomingHttpHeaders } from 'node:http';
import { clientBindingKey, sourceKeyOf } from './binding.js';
import { COOKIE_NAMES, readCookie, serializeCookie } from '../reputation/cookie.js';

/**
 * The page-visit cookie: a random id the shield gives a browser with a page it answers, so that the
 * pages a browser loaded are known as that browser's (defence/page-visits.ts).
 *
 * Why: a form submission is backed by the page it names only if the same browser loaded that page.
 * Keyed by source (address and agent), customers behind one carrier-NAT address who send the same
 * agent back each other's submissions — and so do bots behind that address that copy the agent:
 * one customer's login page backed every bot's login POST there (browse-then-flood drill,
 * cgnat-shared layout: at the onset ~40 bots' first login POSTs, each a password hash at the
 * origin, went ahead of customers' lookups, which waited 5 s and were abandoned). A token cannot
 * be the key: a browser's token changes between the page and the post when a challenge is
 * answered in between, and the page may be loaded before the browser holds any. This cookie is set
 * on the first page answer, whatever the attack state, and only names the browser: an id a bot
 * invents or drops names no page it loaded, so it needs no signature. What it grants — a page's own
 * stylesheet passing a signature's proof-of-work once a page was answered (defence/answered-page.ts)
 * — is bound to the address the page went to, so one bot's cookie copied by a crowd grants nothing.
 *
 * A browser without the cookie (a client that keeps no cookies) is known by its source, as before:
 * never stricter than the source alone. A page from the cache gives the cookie too: given only with
 * the origin's answers, a cached login page was its source's and backed every browser's post behind
 * that address and agent.
 */

/** Random bytes in a visit id (base64url: 16 characters). */
export const VISIT_ID_BYTES = 12;
const VISIT_ID = /^[A-Za-z0-9_-]{16}$/;

/** The visit id a request's cookies carry, if well-formed. */
export function readVisitId(cookieHeader: string | undefined): string | undefined {
  const v = readCookie(cookieHeader, COOKIE_NAMES.pv);
  return v !== undefined && VISIT_ID.test(v) ? v : undefined;
}

/**
 * A Set-Cookie line giving a browser visit id `id`: a session cookie (it lives while the browser
 * does, so a form loaded just before it would have expired still backs its post), HttpOnly,
 * SameSite=Lax (it goes with same-site form posts).
 */
export function visitCookie(id: string, secure: boolean): string {
  return serializeCookie(COOKIE_NAMES.pv, id, { secure });
}

/** The key the page loads of the browser holding visit id `id` are recorded under. */
export const visitKeyOf = (id: string): string => `pv ${id}`;

/**
 * Whose page load a request is (defence/page-visits.ts): the browser named by `visitId` (the
 * request's cookie, or the one its answer just set), else its source, address and agent — a
 * browser that keeps no cookie.
 */
export function visitorKey(visitId: string | undefined, clientKey: string, headers: IncomingHttpHeaders): string {
  return visitId !== undefined ? visitKeyOf(visitId) : sourceKeyOf(clientKey, clientBindingKey(headers['user-agent']));
}

