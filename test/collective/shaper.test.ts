/**
 * The link shaper on a real nats.js lane and a real nats-server: paced sends take at least
 * bytes / rate (a lower bound, which load cannot break), the dropper drops the fraction its
 * random source says, settle() waits for paced borrowed payloads, and a cut loses what is sent
 * and received while it lasts.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../kit/nats-server.ts';
import { NatsLane } from '../../worker/collective/lane.ts';
import { LinkShaper } from '../../worker/collective/shaper.ts';
import { until } from '../head/helpers/wait.ts';

t.test('pacing, dropping and cutting a lane', async (t) => {
  const nats = await startNatsServer({ auth: false });
  t.teardown(() => nats.stop());
  const tx = await connect({ servers: nats.url });
  const rx = await connect({ servers: nats.url });
  t.teardown(async () => {
    await tx.close();
    await rx.close();
  });
  const got: number[] = [];
  rx.subscribe('shape.>', {
    callback: (_e, m) => {
      got.push(m.data.length);
    },
  });
  await rx.flush();

  let draws = 0;
  const shaper = new LinkShaper(() => ((draws++ % 4) + 0.5) / 4); // 0.125, 0.375, 0.625, 0.875, …
  const lane = shaper.wrap(new NatsLane(tx, false));
  shaper.setRate(80); // 10 000 bytes/s
  const t0 = Date.now();
  for (let i = 0; i < 10; i++) lane.publish('shape.pace', new Uint8Array(1000), true);
  await lane.settle();
  const took = Date.now() - t0;
  t.ok(took >= 850, `10 kB at 80 kbit/s took ${took} ms (at least ~900)`);
  await until('all paced chunks arrive', () => got.length === 10);
  t.ok(shaper.counters.paced >= 9, `${shaper.counters.paced} chunks waited for the pacer`);
  shaper.setRate(null);

  got.length = 0;
  shaper.setDrop(0.5);
  for (let i = 0; i < 8; i++) lane.publish('shape.drop', new Uint8Array(10), false);
  await lane.flush();
  await until('the kept chunks arrive', () => got.length === 4);
  t.equal(shaper.counters.dropped, 4, 'half of 8 dropped (draws under 0.5)');
  shaper.setDrop(null);

  const rxLane = shaper.wrap(new NatsLane(rx, false));
  const heard: string[] = [];
  rxLane.subscribe('shape.cut', (s) => heard.push(s));
  await rx.flush();
  shaper.cut(300);
  lane.publish('shape.cut', new Uint8Array(1), false);
  tx.publish('shape.cut', new Uint8Array(1)); // from outside the shaper: arrives, but the cut lane hears nothing
  await tx.flush();
  await new Promise((r) => setTimeout(r, 100));
  t.same(heard, [], 'nothing sent or received during the cut');
  await until('the cut is over', () => !shaper.isCut);
  lane.publish('shape.cut', new Uint8Array(1), false);
  await until('heard after the cut', () => heard.length === 1);
  t.pass('the lane works again after the cut');
});
