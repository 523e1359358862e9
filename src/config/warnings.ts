import type { Config } from './schema.js';

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
export function configWarnings(config: Config): ConfigWarning[] {
  const out: ConfigWarning[] = [];
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
