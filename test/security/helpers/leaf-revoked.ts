/**
 * Run inside a leaf host: connects to the leaf with the node creds inside LEAF_JOIN_TOKEN, prints
 * `CONNECTED`, then `CUT <reason>` when the server closes the connection, then
 * `AGAIN <result>` for a fresh connect with the same creds (test/security/leaf-auth.test.ts).
 */
import { connect } from '@nats-io/transport-node';
import { natsOptions } from '../../../shared/nats-connect.ts';
import { parseJoinToken } from '../../../shared/join-token.ts';

const url = process.env.LEAF_URL ?? 'nats://127.0.0.1:4222';
const { creds } = parseJoinToken(process.env.LEAF_JOIN_TOKEN ?? '');
const errors: string[] = [];
const nc = await connect(natsOptions(url, creds, { reconnect: false }));
void (async () => {
  for await (const s of nc.status()) if (s.type === 'error') errors.push(String((s as { error?: Error }).error?.message ?? s.type));
})();
console.log('CONNECTED');
const closed = await nc.closed();
console.log(`CUT ${[closed?.message, ...errors].filter(Boolean).join('; ') || 'closed'}`);
const again = await connect(natsOptions(url, creds, { reconnect: false, timeout: 5000 })).then(
  async (c) => {
    await c.close();
    return 'connected';
  },
  (e: Error) => e.message,
);
console.log(`AGAIN ${again}`);
