/**
 * The head's log says what changed, once: a NATS outage is one "cut off" line (not one per
 * tick: the reason carries elapsed ms) and one "whole again" line with its duration; the
 * expected 503 FLO_UNAVAILABLE of a write during it is a warn line without a stack; a node that
 * drained and then went quiet "left", it is not "dead".
 */
import t from 'tap';
import { pino } from 'pino';
import { startRestartableNats, uniquePrefix } from '../kit/nats-server.ts';
import { startHead } from '../../head/head.ts';
import { FakeAgent, fakeAgentOptions } from './helpers/fake-agent.ts';
import { until } from './helpers/wait.ts';

interface Line {
  level: number;
  msg: string;
  err?: { stack?: string };
  code?: string;
  cut_off_ms?: number;
  node?: string;
}

function capture() {
  const lines: Line[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (l: string) => {
        lines.push(JSON.parse(l) as Line);
      },
    },
  );
  return { log, lines };
}

t.test('an outage is logged once when it starts and once when it ends; its 503s are warnings', async (t) => {
  const nats = await startRestartableNats(t);
  const prefix = uniquePrefix('ln');
  const { log, lines } = capture();
  const head = await startHead({ natsUrl: nats.url, ...nats.auth?.headOptions, prefix, port: null, deadAfterMs: 1500, tickMs: 100, log });
  t.teardown(() => head.stop());
  const spec = { workers: 1, trainer: { kind: 'logreg', steps: 5 } };
  t.equal((await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).statusCode, 201);

  // only what is logged from the kill on (a loaded machine may see a short unacknowledged lease at start)
  const from = lines.length;
  const since = () => lines.slice(from);
  await nats.kill();
  await until('healthz 503', async () => (await head.app.inject({ url: '/healthz' })).statusCode === 503, 20_000);
  const post = await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  t.equal(post.statusCode, 503);
  t.equal(post.json().error.code, 'FLO_UNAVAILABLE');
  // 3 s of outage at a 100 ms tick: ~30 passes of the controller, each of which used to log
  await new Promise((r) => setTimeout(r, 3000));
  await nats.restart();
  await until('healthz 200 again', async () => (await head.app.inject({ url: '/healthz' })).statusCode === 200, 30_000);
  await until('whole again logged', () => since().some((l) => l.msg.includes('whole again')), 10_000);

  const cut = since().filter((l) => l.msg.includes('head is cut off from NATS'));
  // one per kind of problem: lost connection, then possibly an unacknowledged lease while JetStream comes back
  t.ok(cut.length >= 1 && cut.length <= 3, `"cut off" logged ${cut.length} time(s) in a 3 s+ outage at a 100 ms tick`);
  const whole = since().filter((l) => l.msg.includes('whole again'));
  t.ok(whole.length >= 1 && whole.length <= cut.length, `and "whole again" once per cut (${whole.length})`);
  t.ok((whole[0]?.cut_off_ms ?? 0) >= 3000, `with how long it lasted: ${whole[0]?.cut_off_ms} ms`);
  t.match(whole[0]?.msg ?? '', /after \d+ ms/);
  const refused = lines.filter((l) => l.code === 'FLO_UNAVAILABLE');
  t.ok(refused.length >= 1, 'the refused write was logged');
  for (const l of refused) {
    t.equal(l.level, 40, 'at warn');
    t.notOk(l.err?.stack, 'without a stack');
  }
  t.notOk(
    lines.some((l) => l.level >= 50 && JSON.stringify(l).includes('FLO_UNAVAILABLE')),
    'no error-level line for an expected 503',
  );
});

t.test('a node that drained and went quiet left; it is not declared dead', async (t) => {
  const nats = await startRestartableNats(t);
  const prefix = uniquePrefix('ld');
  const { log, lines } = capture();
  const head = await startHead({ natsUrl: nats.url, ...nats.auth?.headOptions, prefix, port: null, deadAfterMs: 1000, tickMs: 100, log });
  t.teardown(() => head.stop());
  const agent = await new FakeAgent(await fakeAgentOptions(nats, prefix, 'n1'), prefix, 'n1', 1).start();
  t.teardown(() => agent.stop());
  await until('node registered', () => head.ctl.nodes.has('n1'));
  agent.draining = true;
  await until('head saw the drain', () => head.ctl.nodes.get('n1')?.record.draining === true);
  agent.silent = true;
  await until('node removed', () => !head.ctl.nodes.has('n1'));
  const about = lines.filter((l) => l.node === 'n1' && /node (left|is dead)/.test(l.msg));
  t.equal(about.length, 1, 'one line about its end');
  t.match(about[0]?.msg ?? '', /^node left after draining/, `logged: ${about[0]?.msg}`);
  t.equal(about[0]?.level, 30, 'at info');
});
