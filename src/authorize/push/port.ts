/**
 * A notification to wake the app on one device; it carries no transaction data, only a reference
 * and a fetch token (an HMAC of device and reference by the service) that lets the woken app list
 * its challenges while that reference is pending, so reading amount and payee takes the push.
 */
export interface PushMessage { deviceId: string; ref: string; token: string }

/** The push provider's answer (like FCM/APNs: accepted, or an error). */
export type PushResult = { ok: true } | { ok: false; error: string };

/** The push port: a real FCM/APNs adapter or the simulator implement it. */
export interface PushProvider {
  send(m: PushMessage): Promise<PushResult>;
  close(): Promise<void>;
}
