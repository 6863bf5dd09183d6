/**
 * A raw data lane to a server that goes silent (SIGSTOP: the TCP connection stays open and
 * nothing comes back, as when a partition cuts the server off) is reported lost by its own PINGs
 * (worker/collective/raw-lane.ts), not only when the operation in flight times out; a lane
 * whose server answers stays open however long it idles.
 */
import t from 'tap';
import { startNatsServer } from '../kit/nats-server.ts';
import { connectRawLane } from '../../worker/collective/raw-lane.ts';
import { hostPort } from '../../worker/collective/open-lanes.ts';

t.test('a silent server closes its raw lanes as lost; an answering one does not', async (t) => {
  const srv = await startNatsServer({ auth: false, jetstream: false });
  t.teardown(async () => {
    srv.proc.kill('SIGCONT');
    await srv.stop();
  });
  const server = hostPort(srv.url);
  let lostErr: Error | undefined;
  const lost = new Promise<Error>((resolve) => {
    void connectRawLane({
      server,
      pingIntervalMs: 200,
      maxPingOut: 2,
      onClosed: (e) => {
        lostErr = e;
        resolve(e ?? new Error('closed'));
      },
    });
  });
  let quietLost = false;
  const quiet = await connectRawLane({
    server,
    pingIntervalMs: 0,
    onClosed: () => {
      quietLost = true;
    },
  });
  t.teardown(() => quiet.close());
  // idle but answered: 2 s is ten PING intervals
  await new Promise((r) => setTimeout(r, 2000));
  t.equal(lostErr, undefined, 'an idle lane whose server answers its PINGs stays open');
  srv.proc.kill('SIGSTOP');
  const e = await lost;
  t.match(e.message, /did not answer a PING for \d+ ms/, `the silent server's lane is lost: ${e.message}`);
  t.notOk(quietLost, 'a lane without PINGs (pingIntervalMs 0) notices nothing: only the PINGs found the silence');
});
