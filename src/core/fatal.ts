import type { Logger } from './logger.js';

/** Exit status after an uncaught exception: EX_SOFTWARE (sysexits.h), distinct from a configuration error (2). */
export const EXIT_CRASH = 70;

/**
 * What the process does with an exception no handler caught. Node's own documentation is plain
 * about it: the process is in an undefined state afterwards and must not resume. So the shield
 * does what an nginx worker's master relies on — it ends, and its supervisor starts it again
 * (examples/rempart-shield.service: `Restart=always`) — but first it writes one structured line
 * where the operator's logs go, with the stack, instead of a bare trace on stderr that log
 * pipelines reading JSON from stdout do not collect. The asynchronous log destination is flushed
 * before exiting; if the flush does not come back within `flushMs`, it exits anyway.
 */
export function onUncaught(log: Logger, exit: (code: number) => void, flushMs = 1000): (err: unknown, origin: string) => void {
  let exiting = false;
  return (err, origin) => {
    if (exiting) return; // a second throw while flushing: the first one is the story
    exiting = true;
    log.fatal({ err, origin }, 'uncaught exception: the process exits for its supervisor to restart it');
    const timer = setTimeout(() => exit(EXIT_CRASH), flushMs);
    timer.unref?.();
    log.flush(() => { clearTimeout(timer); exit(EXIT_CRASH); });
  };
}
