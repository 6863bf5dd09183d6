/**
 * A client's server goes silent (SIGSTOP: the socket stays open and nothing answers, as across a
 * partition): the client's own PINGs find it stale and it redials, and the redial goes to the
 * other server of its list, not to the one it lost (shared/nats-connect.ts LIVENESS). The time
 * from the stop to the reconnect is printed; the lease it must beat is 3 s.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import type { Server } from '@nats-io/transport-node';
import { startNatsServer } from '../kit/nats-server.ts';
import { LIVENESS, leastRecentlyDialled, natsOptions } from '../../shared/nats-connect.ts';

t.test('leastRecentlyDialled never picks the server dialled last', async (t) => {
  const s = (listen: string, lastConnect: number) => ({ listen, lastConnect }) as unknown as Server;
  const pool = [s('a:4222', 900), s('b:4222', 0), s('c:4222', 500)];
  t.equal((leastRecentlyDialled(pool, null) as Server).listen, 'b:4222', 'a never-dialled server first');
  const after = [s('a:4222', 900), s('b:4222', 1000), s('c:4222', 500)];
  t.equal((leastRecentlyDialled(after, null) as Server).listen, 'c:4222', 'then the one dialled longest ago');
  t.equal((leastRecentlyDialled([s('a:4222', 5)], null) as Server).listen, 'a:4222', 'a pool of one redials its server');
});

t.test('a silent server: the client moves to the other one of its list', async (t) => {
  const servers = await Promise.all([
    startNatsServer({ auth: false, jetstream: false }),
    startNatsServer({ auth: false, jetstream: false }),
  ]);
  t.teardown(async () => {
    for (const s of servers) {
      try {
        s.proc.kill('SIGCONT');
      } catch {
        /* gone */
      }
    }
    await Promise.all(servers.map((s) => s.stop()));
  });
  const urls = servers.map((s) => s.url);
  const nc = await connect(natsOptions(urls, undefined, { maxReconnectAttempts: -1 }));
  t.teardown(() => nc.close());
  const on = servers.find((s) => nc.getServer().endsWith(`:${s.port}`));
  t.ok(on, `connected to one of the two (${nc.getServer()})`);
  const other = servers.find((s) => s !== on)!;
  const events: string[] = [];
  const reconnected = (async () => {
    for await (const st of nc.status()) {
      events.push(st.type);
      if (st.type === 'reconnect') return st.server;
    }
    return undefined;
  })();
  const t0 = Date.now();
  on!.proc.kill('SIGSTOP');
  const to = await reconnected;
  const ms = Date.now() - t0;
  t.comment(
    `silent server left after ${ms} ms (ping ${LIVENESS.pingIntervalMs} ms x ${LIVENESS.maxPingOut} out; lease 3000 ms); status: ${events.join(',')}`,
  );
  t.ok(to?.endsWith(`:${other.port}`), `reconnected to the other server (${to})`);
  t.equal(events.filter((e) => e === 'reconnecting').length, 1, 'with one dial: the silent server was not redialled first');
  const sub = nc.subscribe('liveness.probe', { max: 1 });
  nc.publish('liveness.probe', new TextEncoder().encode('x'));
  for await (const m of sub) t.equal(m.string(), 'x', 'the connection works on the other server');
});
