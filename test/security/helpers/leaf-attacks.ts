/**
 * Run inside a leaf host (`ip netns exec`): the attacks of test/security/nats-attacks.test.ts,
 * made through the host's leaf server at nats://127.0.0.1:4222 with the credentials given in the
 * environment. Prints one line `LEAF-ATTACKS {json}` with what the servers answered.
 *   LEAF_URL, LEAF_PREFIX, LEAF_JOB (a running job), EVIL_CREDS (a genuine worker credential of
 *   node `evil`), VICTIM (a node id), HEAD_CREDS (the head's own: bounded here by the leaf user)
 */
import { connect as tcpConnect } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { natsOptions } from '../../../shared/nats-connect.ts';
import { jsClient } from '../../../shared/js-domain.ts';
import { subjects } from '../../../shared/subjects.ts';
import { encode } from '../../../shared/codec.ts';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const url = env('LEAF_URL');
const s = subjects(env('LEAF_PREFIX'));
const job = env('LEAF_JOB');
const victim = env('VICTIM');
const out: Record<string, string> = {};

/** The server's answer to one publish: its async permission error, or 'sent' when none came within 2 s. */
async function publishAnswer(nc: NatsConnection, subject: string, body: unknown): Promise<string> {
  const it = nc.status();
  nc.publish(subject, encode(body));
  await nc.flush();
  const timer = new Promise<string>((r) => setTimeout(() => r('sent'), 2000));
  const err = (async () => {
    for await (const st of it) if (st.type === 'error') return String((st as { error?: Error }).error?.message ?? st.type);
    return 'closed';
  })();
  return Promise.race([err, timer]);
}

/**
 * An anonymous client, spoken by hand: the server's answer to a CONNECT without credentials and a
 * PING (nats.js itself can die of an EPIPE when the server closes first, which would hide it).
 */
function anonymous(): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let got = '';
    let sent = false;
    const sock = tcpConnect(Number(u.port), u.hostname);
    const done = () => {
      sock.destroy();
      resolve(
        got
          .split('\r\n')
          .filter((l) => l && !l.startsWith('INFO '))
          .join(' | ') || 'no answer',
      );
    };
    sock.on('data', (d) => {
      got += d.toString();
      // written, not ended: a half-close right behind the CONNECT can let the server drop the
      // connection as closed by the client before it answers (seen once under load: 'no answer')
      if (got.includes('INFO ') && !sent) {
        sent = true;
        sock.write('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n');
      }
      if (/PONG|-ERR/.test(got)) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    setTimeout(done, 5000);
  });
}
out.anonymous = await anonymous();

const evil = await connect(natsOptions(url, env('EVIL_CREDS'), { reconnect: false }));
const hb = { nodeId: victim, ts: Date.now(), slots: 2, actors: [], draining: false };
out.heartbeatOther = await publishAnswer(evil, s.nodeHeartbeat(victim), hb);
out.leavingOther = await publishAnswer(evil, s.nodeLeaving(victim), { ...hb, draining: true });
out.exitOther = await publishAnswer(evil, s.actorExit(victim), { nodeId: victim, jobId: job, outcome: { kind: 'fatal' } });
out.drainOther = await publishAnswer(evil, s.nodeControl(victim), { op: 'drain' });
out.abort = await publishAnswer(evil, s.jobAbort(job), { jobId: job, generation: 1000, reason: 'x' });
out.events = await publishAnswer(evil, s.jobEvents(job), {
  type: 'metric',
  jobId: job,
  ts: 0,
  generation: 0,
  rank: 0,
  step: 1000,
  values: {},
});
out.kvWrite = await publishAnswer(evil, `$JS.flotilla.API.$KV.${s.jobsBucket}.${job}`, { state: 'succeeded' });
out.ownHeartbeat = await publishAnswer(evil, s.nodeHeartbeat('evil'), { ...hb, nodeId: 'evil' });
await evil.close();

// the head's own credential on the leaf: nothing of the head's crosses the host's leaf user
// (KV writes may not go up; the answers to its JetStream requests may not come down: its inbox is
// none of the host's nodes' or actors')
const head = await connect(natsOptions(url, env('HEAD_CREDS'), { reconnect: false }));
const headKv = () => new Kvm(jsClient(head, { timeout: 5000 })).open(s.jobsBucket);
out.headKvRead = await headKv()
  .then((kv) => kv.get(job))
  .then(
    (e) => (e ? `read ${e.length} bytes` : 'missing'),
    (e: Error) => `error: ${e.message}`,
  );
out.headKvWrite = await headKv()
  .then((kv) => kv.put(`${job}-forged`, '{}'))
  .then(
    () => 'written',
    (e: Error) => `error: ${e.message}`,
  );
await head.close();
console.log(`LEAF-ATTACKS ${JSON.stringify(out)}`);
