/**
 * What a NATS server says to one publish or subscription of a connection: the permissions error
 * it sends back, or 'accepted' after a round trip without one (the -ERR of a refused operation
 * comes before the PONG of the flush that follows it on the same connection).
 */
import type { NatsConnection } from '@nats-io/transport-node';

async function verdict(nc: NatsConnection, act: () => void, subject: string): Promise<string> {
  const errors: string[] = [];
  const it = nc.status();
  void (async () => {
    for await (const s of it) if (s.type === 'error') errors.push(String((s as { error?: Error }).error?.message));
  })();
  act();
  await nc.flush();
  await new Promise((r) => setTimeout(r, 50)); // the status iterator gets its turn
  return errors.find((e) => e.includes(subject)) ?? errors[0] ?? 'accepted';
}

/** The server's answer to one publish of `body` (bytes, or a value sent as JSON) on `subject`. */
export function publishVerdict(nc: NatsConnection, subject: string, body: Uint8Array | unknown = new Uint8Array([1])): Promise<string> {
  const data = body instanceof Uint8Array ? body : new TextEncoder().encode(JSON.stringify(body));
  return verdict(nc, () => nc.publish(subject, data), subject);
}

/** The server's answer to a subscription on `subject`. */
export function subscribeVerdict(nc: NatsConnection, subject: string): Promise<string> {
  return verdict(
    nc,
    () => {
      nc.subscribe(subject);
    },
    subject,
  );
}
