import type { Config } from './schema.js';
import { readTlsCertificates } from './tls-material.js';

/** A certificate this close to its end is said at start and on reload (Let's Encrypt renews at 30 days left). */
export const CERTIFICATE_WARNING_DAYS = 14;

/** A setting that is valid but probably not what the operator meant: logged at start and on reload. */
export interface ConfigWarning {
  readonly path: string;
  readonly message: string;
}

/**
 * Settings that turn a defence off without saying so. `detection.patienceMs` at or above an
 * upstream's `queueTimeoutMs`: its waiting requests are refused before any of them outlives the
 * patience, so admission rule 7 (newest first past a person's patience, upstream/admission.ts)
 * never holds for that upstream.
 */
export function configWarnings(config: Config, now = Date.now()): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  // A certificate past its end or close to it: every client refuses it (or soon will), and
  // nothing else says so until they do.
  const tls = config.listen.tls;
  if (tls) {
    readTlsCertificates(tls, process.cwd()).certificates.forEach((c, i) => {
      const days = Math.floor((c.notAfter - now) / 86_400_000);
      if (days >= CERTIFICATE_WARNING_DAYS) return;
      out.push({
        path: `listen.tls.certificates[${i}].cert`,
        message: c.notAfter <= now ? `certificate ${c.subject} expired on ${new Date(c.notAfter).toISOString()}: clients refuse it`
          : `certificate ${c.subject} expires in ${days} day(s), on ${new Date(c.notAfter).toISOString()}`,
      });
    });
  }
  if (!config.detection.enabled) return out;
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (config.detection.patienceMs >= u.queueTimeoutMs) {
      out.push({
        path: `upstreams.${name}.queueTimeoutMs`,
        message: `detection.patienceMs (${config.detection.patienceMs} ms) is at or above upstreams.${name}.queueTimeoutMs (${u.queueTimeoutMs} ms): requests are refused before they outlive the patience, so clients that never give up are not told apart there (admission rule 7 off)`,
      });
    }
  }
  return out;
}
