import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import smpp, { type PDU, type Session } from 'smpp';

/** How the test SMSC answers submit_sm. */
export type SmscBehaviour = 'ok' | 'throttle' | 'fail' | 'silent';

/** A real SMPP 3.4 server (the smpp package's createServer) on 127.0.0.1:0 that records messages and sends receipts. */
export interface TestSmsc {
  port: number;
  url: string;
  received: Array<{ to: string; text: string; id: string }>;
  /** Answers for the next submits, consumed in order; then `fallback`. */
  script: SmscBehaviour[];
  fallback: SmscBehaviour;
  receiptStatus: 'DELIVRD' | 'UNDELIV';
  enquireLinks: number;
  binds: number;
  stop(): Promise<void>;
}

function textOf(pdu: PDU): string {
  const v = (pdu.message_payload ?? pdu.short_message) as { message?: unknown } | Buffer | string | undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  const m = v?.message;
  return typeof m === 'string' ? m : Buffer.isBuffer(m) ? m.toString('latin1') : '';
}

/** Starts the SMSC; `port` reuses a port (to test reconnect after a restart). */
export async function startSmsc(t: TestContext, port = 0): Promise<TestSmsc> {
  let seq = 0;
  const sessions = new Set<Session>();
  const smsc: TestSmsc = {
    port: 0, url: '', received: [], script: [], fallback: 'ok', receiptStatus: 'DELIVRD', enquireLinks: 0, binds: 0,
    stop: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000); // bounded: a half-open client socket must not hang the test
        server.close(() => { clearTimeout(timer); resolve(); });
      });
    },
  };
  const server = smpp.createServer((session: Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
    session.on('bind_transceiver', (pdu: PDU) => {
      smsc.binds++;
      session.send(pdu.response(pdu.system_id === 'rempart' ? {} : { command_status: smpp.ESME_RBINDFAIL }));
    });
    session.on('enquire_link', (pdu: PDU) => { smsc.enquireLinks++; session.send(pdu.response()); });
    session.on('unbind', (pdu: PDU) => { session.send(pdu.response()); session.close(); });
    session.on('submit_sm', (pdu: PDU) => {
      const b = smsc.script.shift() ?? smsc.fallback;
      if (b === 'silent') return;
      if (b === 'throttle') { session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED })); return; }
      if (b === 'fail') { session.send(pdu.response({ command_status: smpp.ESME_RSYSERR })); return; }
      const id = `smsc-${++seq}`;
      smsc.received.push({ to: String(pdu.destination_addr), text: textOf(pdu), id });
      session.send(pdu.response({ message_id: id }));
      if (Number(pdu.registered_delivery) & 1) {
        // SMPP 3.4 Appendix B receipt, with the receipted_message_id and message_state TLVs.
        setImmediate(() => session.deliver_sm({
          esm_class: 0x04, source_addr: String(pdu.destination_addr), destination_addr: String(pdu.source_addr),
          short_message: `id:${id} sub:001 dlvrd:001 submit date:2612011000 done date:2612011000 stat:${smsc.receiptStatus} err:000 text:`,
          receipted_message_id: id, message_state: smsc.receiptStatus === 'DELIVRD' ? 2 : 5,
        }));
      }
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  smsc.port = (server.address() as AddressInfo).port;
  smsc.url = `smpp://127.0.0.1:${smsc.port}`;
  t.after(() => smsc.stop().catch(() => {}));
  return smsc;
}
