import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * HTTP/1.1 pipelining, served the way nginx and HAProxy serve it: one exchange of a connection at
 * a time, in order. Node's server parses every request a client wrote ahead and hands them all
 * over at once (it only stops reading when *responses* pile up), so one connection writing 1,000
 * GETs in one packet would put 1,000 requests in the pipeline and at the origin concurrently —
 * past the per-client connection cap, which is the concurrency a client was meant to have.
 * Responses go out in request order anyway (RFC 9112 §9.3.2), so running request n+1 before
 * response n is complete only moves the wait from the client to the origin.
 *
 * At most `maxWaiting` requests wait behind the one being served. Node parses a whole packet at
 * once, so a bound cannot be kept by not reading (TCP backpressure, nginx's way): past it the
 * connection stops reading, the last request admitted answers with `Connection: close`, and the
 * requests parsed beyond the bound are never run — a pipelining client resends the unanswered
 * ones on a new connection, as it must be ready to (RFC 9112 §9.3.2).
 */
export interface SerialExchanges {
  /**
   * A request arrived on its connection: `run` now if the connection is idle, later if it is
   * serving one, never if the connection pipelined past the bound. Returns what happened.
   */
  arrive(req: IncomingMessage, res: ServerResponse, run: () => void): 'run' | 'waiting' | 'over';
  /**
   * Something that takes the connection over after its last request — an upgrade (WebSocket), a
   * CONNECT refusal, the answer to a request that did not parse: `run` now if the connection is
   * idle, else after the exchanges before it. Node hands these over at once, and their bytes would
   * otherwise go out before (and be taken as) the answers still owed on that connection, RFC 9112
   * §9.3.2. Node has stopped parsing the connection by then: nothing arrives after it. Never run
   * when the connection is closing past the bound.
   */
  afterPending(socket: Socket, run: () => void): void;
  /** An exchange of `socket` ended (its response's 'close'): the next one waiting runs. */
  done(socket: Socket): void;
  /** How many requests of `socket` wait behind the one being served. */
  behind(socket: Socket): number;
}

interface Line {
  /** Exchanges waiting behind the current one, oldest first. */
  readonly waiting: Array<() => void>;
  /** Past the bound: the connection closes after the last admitted exchange. */
  over: boolean;
  /** The response of the last exchange admitted (it carries Connection: close when `over`). */
  last: ServerResponse;
  /** Its request: while Node is still parsing its body, whatever Node hands over next concerns it. */
  lastReq: IncomingMessage;
}

export function createSerialExchanges(maxWaiting: () => number, onOver: (socket: Socket) => void): SerialExchanges {
  const lines = new WeakMap<Socket, Line>();

  const next = (socket: Socket): void => {
    const line = lines.get(socket);
    if (line === undefined) return;
    const run = line.waiting.shift();
    if (run === undefined) { lines.delete(socket); return; }
    if (socket.destroyed) { line.waiting.length = 0; lines.delete(socket); return; }
    run();
  };

  return {
    arrive(req, res, run) {
      const socket = req.socket;
      const line = lines.get(socket);
      if (line === undefined) {
        lines.set(socket, { waiting: [], over: false, last: res, lastReq: req });
        run();
        return 'run';
      }
      if (line.over) return 'over';
      if (line.waiting.length >= maxWaiting()) {
        line.over = true;
        // The last admitted answers, then the connection closes; the rest are never run. Node
        // resumes reading when a response drains or a body is read: pause again while closing.
        const last = line.last;
        if (!last.headersSent) last.shouldKeepAlive = false;
        last.once('close', () => socket.end());
        socket.pause();
        socket.on('resume', () => socket.pause());
        onOver(socket);
        return 'over';
      }
      line.waiting.push(run);
      line.last = res;
      line.lastReq = req;
      return 'waiting';
    },
    afterPending(socket, run) {
      const line = lines.get(socket);
      if (line === undefined) { run(); return; }
      if (line.over) return;
      // Node stopped inside the last request's body (a chunk that does not parse): the refusal is
      // that request's answer — now if it is the one being served, else in its place in the line.
      if (!line.lastReq.complete) {
        if (line.waiting.length === 0) { run(); return; }
        line.waiting.pop();
      }
      // Nothing more arrives on this line: the bound does not apply.
      line.waiting.push(run);
    },
    done: next,
    behind: (socket) => lines.get(socket)?.waiting.length ?? 0,
  };
}
