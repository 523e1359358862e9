/**
 * Services with a lifecycle (Caddy's Provision/Cleanup): anything that owns a timer, a socket or a
 * store registers here with start/stop (and reload) hooks; a process's `start` only wires them.
 * Services start in registration order and stop in reverse order, so a service can rely on the
 * ones registered before it for its whole life.
 */

/** One service: every hook is optional; `stop` receives the time left before the deadline. */
export interface Service<C = unknown> {
  readonly name: string;
  start?(): void | Promise<void>;
  /** Applies a new validated configuration; throwing rejects the reload (logged, old config stays). */
  reload?(config: C): void;
  stop?(graceMs: number): void | Promise<void>;
}

/** The registry of a process's services. */
export interface Lifecycle<C = unknown> {
  register<S extends Service<C>>(service: S): S;
  start(): Promise<void>;
  reload(config: C): void;
  /** Stops every started service in reverse order; the whole shutdown takes at most about `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  readonly names: readonly string[];
}

/** Creates an empty lifecycle; `onError` hears a service whose stop failed (shutdown goes on). */
export function createLifecycle<C = unknown>(onError: (name: string, err: unknown) => void = () => {}): Lifecycle<C> {
  const services: Service<C>[] = [];
  const started: Service<C>[] = [];
  let stopping: Promise<void> | undefined;
  return {
    register(service) {
      services.push(service);
      return service;
    },
    async start() {
      for (const s of services) {
        if (started.includes(s)) continue;
        await s.start?.();
        started.push(s);
      }
    },
    reload(config) {
      for (const s of started) s.reload?.(config);
    },
    stop(graceMs = 0) {
      stopping ??= (async () => {
        const deadline = Date.now() + graceMs;
        for (const s of [...started].reverse()) {
          try {
            await s.stop?.(Math.max(0, deadline - Date.now()));
          } catch (err) {
            onError(s.name, err);
          }
        }
        started.length = 0;
      })();
      return stopping;
    },
    get names() { return services.map((s) => s.name); },
  };
}
