/**
 * Entry of an actor process (forked by the agent): `node --import tsx worker/actor/main.ts`
 * with FLOTILLA_NATS_URL, FLOTILLA_PREFIX and FLOTILLA_ACTOR_SPEC (JSON ActorSpec) in env and
 * an IPC channel to the agent, which gets the final outcome; the exit code backs it up. A warm
 * actor (FLOTILLA_ACTOR_WARM=1, no spec, no creds) gets both over IPC instead (warm.ts), and
 * after a job that ended clean it goes back to waiting for the next one (reuse.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { credsText, natsOptions, natsTls } from '../../shared/nats-connect.ts';
import { cutConnections } from '../../shared/nats-cut.ts';
import { validate } from '../../shared/codec.ts';
import { createLogger } from '../../shared/logger.ts';
import { ActorSpec, type ActorOutcome } from '../../shared/schemas/index.ts';
import { clipText } from '../../shared/schemas/bounds.ts';
import { ACTOR_EXIT_CODES, AgentToActor, type ActorToAgent } from './ipc.ts';
import { trainers } from '../trainers/registry.ts';
import { ActorRuntime } from './runtime.ts';
import { WARM_ENV, waitForStart } from './warm.ts';
import { reuseRefusal } from './reuse.ts';

const send = (m: ActorToAgent): void => {
  if (process.send && process.connected) process.send(m, () => undefined);
};
/** a crash's message may be a long stack: clipped to its bound, so the agent does not refuse the result */
const clipped = (o: ActorOutcome): ActorOutcome => ({ ...o, message: clipText(o.message) });

function finish(outcome: ActorOutcome): void {
  const code = ACTOR_EXIT_CODES[outcome.kind];
  const msg: ActorToAgent = { type: 'result', outcome: clipped(outcome) };
  if (process.send && process.connected) process.send(msg, () => process.exit(code));
  else process.exit(code);
}

interface Ran {
  outcome: ActorOutcome;
  stopped: boolean;
}

/**
 * One actor from its spec to its outcome: connects with the job's creds, runs, and closes every
 * NATS connection it opened. Every process listener it adds is removed before it returns, so a
 * reused process keeps nothing of this job but what its locals held (gone with them).
 */
async function runActor(spec: ActorSpec, creds: string | undefined, backlog: () => unknown[]): Promise<Ran> {
  const prefix = process.env.FLOTILLA_PREFIX ?? 'flotilla';
  const log = createLogger({
    role: 'actor',
    bindings: { job: spec.jobId, actor: spec.actorId, rank: spec.rank, generation: spec.generation },
  });
  const stop = new AbortController();
  const onTerm = () => stop.abort('SIGTERM');
  // Ctrl-C reaches the whole foreground process group: a managed actor leaves that decision
  // to its agent (which moves it, rather than cancelling the job); a standalone one stops.
  const onInt = () => {
    if (!process.send) stop.abort('SIGINT');
  };
  // The agent is gone (killed): nobody will reap us, so stop rather than train as an orphan.
  const onGone = () => stop.abort('agent disconnected');
  let runtime: ActorRuntime | undefined;
  const onMessage = (raw: unknown) => {
    const r = AgentToActor.safeParse(raw);
    if (!r.success) {
      log.warn({}, 'ignoring a malformed IPC message from the agent');
      return;
    }
    const m = r.data;
    if (m.type === 'stop') stop.abort(m.reason);
    else if (m.type === 'fault') runtime?.faults.receive(m.fault);
    else if (m.type === 'fault-go') runtime?.faults.go(m.fault_id);
    else if (m.type === 'cut') {
      runtime?.cutLanes(m.ms);
      log.warn({ ms: m.ms, connections: cutConnections(m.ms) }, 'partition fault: NATS connections and data lanes cut');
    }
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('message', onMessage);
  process.on('disconnect', onGone);
  const lanes: NatsConnection[] = [];
  let nc: NatsConnection | undefined;
  try {
    for (const m of backlog()) onMessage(m); // what the agent sent a warm actor right after its start
    const servers = (process.env.FLOTILLA_NATS_URL ?? 'nats://127.0.0.1:4222').split(',');
    // Reconnect for as long as it takes (to any server): the self-fencing lease, not nats.js,
    // decides when an actor cut off from the cluster gives up.
    const opts = { maxReconnectAttempts: -1, reconnectTimeWait: 500 };
    const connectLane = async () => {
      const lane = await connect(natsOptions(servers, creds, { ...opts, name: `flotilla-actor-${spec.actorId}-lane` }));
      lanes.push(lane);
      return lane;
    };
    try {
      nc = await connect(natsOptions(servers, creds, { ...opts, name: `flotilla-actor-${spec.actorId}` }));
    } catch (err) {
      log.error({ err }, 'cannot connect to NATS');
      return {
        outcome: { kind: 'retryable', message: `cannot connect to NATS: ${(err as Error).message}`, exitCode: null, signal: null },
        stopped: stop.signal.aborted,
      };
    }
    log.info({ server: nc.getServer() }, 'connected to NATS');
    const status = nc;
    void (async () => {
      for await (const st of status.status()) {
        if (st.type === 'disconnect' || st.type === 'reconnect')
          log.warn({ server: st.server }, st.type === 'disconnect' ? 'NATS disconnected' : 'NATS reconnected');
      }
    })();
    // raw lanes authenticate as this actor and check the servers' certificates as nats.js does
    const tls = natsTls(servers);
    const laneSecurity = { ...(creds ? { creds: credsText(creds) } : {}), ...(tls ? { tls: { ca: tls.caFile } } : {}) };
    runtime = new ActorRuntime({ spec, nc, prefix, log, send, stop: stop.signal, connectLane, servers, trainers, laneSecurity });
    const outcome = await runtime.run();
    log.info({ outcome }, 'actor exiting');
    return { outcome, stopped: stop.signal.aborted };
  } finally {
    // drain what is in flight (job events), then close whatever is left, lanes included
    const closing = [nc, ...lanes].filter((c): c is NatsConnection => c !== undefined && !c.isClosed());
    await Promise.race([
      Promise.all(closing.map((c) => c.drain().catch(() => undefined))),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
    await Promise.all(closing.map((c) => c.close().catch(() => undefined)));
    log.flush();
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('message', onMessage);
    process.off('disconnect', onGone);
  }
}

async function main(): Promise<void> {
  if (process.env[WARM_ENV] !== '1') {
    let spec: ActorSpec;
    try {
      spec = validate(ActorSpec, JSON.parse(process.env.FLOTILLA_ACTOR_SPEC ?? 'null'));
    } catch (e) {
      console.error(`flotilla actor: bad FLOTILLA_ACTOR_SPEC: ${(e as Error).message}`);
      return finish({ kind: 'fatal', message: `bad FLOTILLA_ACTOR_SPEC: ${(e as Error).message}`, exitCode: null, signal: null });
    }
    return finish((await runActor(spec, process.env.FLOTILLA_NATS_CREDS || undefined, () => [])).outcome);
  }
  // A warm process: one job per `start`; after a clean one it reports and waits for the next.
  for (;;) {
    const start = await waitForStart(trainers, send);
    if (!start) return finish({ kind: 'cancelled', message: 'warm actor stopped before a start', exitCode: null, signal: null });
    const { outcome, stopped } = await runActor(start.spec, start.creds, start.takeBacklog);
    const refused = await reuseRefusal({ outcome, stopped, trainer: await trainers[start.spec.job.trainer.kind]() });
    if (refused) {
      if (outcome.kind === 'succeeded') console.error(`flotilla actor: exiting after its job (${refused})`);
      return finish(outcome);
    }
    // the job's outcome, then `ready` from waitForStart: the agent reports the exit and pools this process
    send({ type: 'result', outcome: clipped(outcome) });
  }
}

void main();
