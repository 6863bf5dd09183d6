/**
 * The warm phase of an actor process: forked by the agent's warm pool without a spec and
 * without NATS credentials (FLOTILLA_ACTOR_WARM=1), it loads every trainer module and its
 * compute backend (tfjs, the native addon: ~1.5-2 s of a cold start on a 2-core machine), says
 * `ready`, and waits for the agent's `start` with its spec and its own creds. The creds stay in
 * memory: they never enter this process's environment, and a warm process holds none.
 */
import type { ActorSpec } from '../../shared/schemas/index.ts';
import type { TrainerRegistry } from './context.ts';
import { AgentToActor, type ActorToAgent } from './ipc.ts';

export const WARM_ENV = 'FLOTILLA_ACTOR_WARM';

export interface WarmStart {
  spec: ActorSpec;
  /** the actor's own NATS creds (absent on a server without auth) */
  creds?: string;
  /**
   * Ends the warm phase: its IPC listener goes, and what the agent sent after `start` (a fault
   * for this actor) is returned for the actor's own handler. Call right after installing it.
   */
  takeBacklog(): unknown[];
}

/** Loads the trainers, reports ready, and resolves with the start message; null when stopped or orphaned first. */
export async function waitForStart(trainers: TrainerRegistry, send: (m: ActorToAgent) => void): Promise<WarmStart | null> {
  let done!: (v: WarmStart | null) => void;
  const got = new Promise<WarmStart | null>((r) => {
    done = r;
  });
  let started = false;
  const backlog: unknown[] = [];
  const onMessage = (raw: unknown) => {
    if (started) {
      backlog.push(raw);
      return;
    }
    const r = AgentToActor.safeParse(raw);
    // a malformed message is refused and the process keeps waiting
    if (!r.success) {
      console.error(`flotilla actor (warm): ignoring a malformed IPC message: ${r.error.issues[0]?.message ?? 'invalid'}`);
      return;
    }
    const m = r.data;
    if (m.type === 'stop') done(null);
    else if (m.type === 'start') {
      started = true;
      done({
        spec: m.spec,
        ...(m.creds ? { creds: m.creds } : {}),
        takeBacklog: () => {
          process.off('message', onMessage);
          return backlog.splice(0);
        },
      });
    }
  };
  // a stop, SIGTERM or a lost agent also ends the loading: nobody waits for a YOLOv5 warm-up step any more
  const gone = new AbortController();
  const onGone = () => {
    gone.abort();
    done(null);
  };
  process.on('message', onMessage);
  process.once('disconnect', onGone);
  process.once('SIGTERM', onGone);
  void got.then((v) => {
    if (v === null) gone.abort();
  });
  try {
    for (const load of Object.values(trainers)) {
      if (gone.signal.aborted) break;
      await (await load()).warm?.(gone.signal);
    }
    if (gone.signal.aborted) return null;
    send({ type: 'ready' });
    return await got;
  } finally {
    if (!started) process.off('message', onMessage);
    process.off('disconnect', onGone);
    process.off('SIGTERM', onGone);
  }
}
