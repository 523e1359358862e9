/**
 * Memory of responses read from upstreams ahead of slow clients: each response may hold up to
 * `perResponseBytes`, all of them together `budgetBytes`; past either, the upstream is paused.
 */
export interface ResponseBudget {
  readonly perResponseBytes: number;
  add(bytes: number): void;
  readonly held: number;
  readonly overBudget: boolean;
}

/** Creates the process-wide read-ahead budget. */
export function createResponseBudget(perResponseBytes: number, budgetBytes: number): ResponseBudget {
  let held = 0;
  return {
    perResponseBytes,
    add(bytes) { held += bytes; },
    get held() { return held; },
    get overBudget() { return held > budgetBytes; },
  };
}
