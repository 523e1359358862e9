/**
 * A tiny typed event bus, one per shield instance: the core publishes, telemetry (metrics, logs,
 * console) subscribes. Per instance rather than node:diagnostics_channel so that several shields
 * in one process (tests, benchmarks) never see each other's events.
 */
export interface EventBus<E extends Record<string, unknown>> {
  emit<K extends keyof E>(name: K, event: E[K]): void;
  on<K extends keyof E>(name: K, fn: (event: E[K]) => void): () => void;
}

/** Creates an event bus; emitting with no subscriber costs one Map lookup. */
export function createEventBus<E extends Record<string, unknown>>(): EventBus<E> {
  const subs = new Map<keyof E, Array<(event: never) => void>>();
  return {
    emit(name, event) {
      const list = subs.get(name);
      if (list) for (const fn of list) (fn as (e: typeof event) => void)(event);
    },
    on(name, fn) {
      const list = subs.get(name) ?? [];
      list.push(fn as (event: never) => void);
      subs.set(name, list);
      return () => {
        const l = subs.get(name);
        if (l) subs.set(name, l.filter((f) => f !== fn));
      };
    },
  };
}
