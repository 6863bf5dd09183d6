/**
 * The spawn pipeline of a placed gang, outside the controller's decision queue: credentials
 * for each new actor (auth/minter.ts), the record of which node got which actor user (before
 * the creds leave the head), the job's object stores, then one spawn request per new rank.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Subjects } from '../../shared/subjects.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { credsJwt, jwtClaims } from '../../shared/nats-connect.ts';
import type { ActorSpec } from '../../shared/schemas/node.ts';
import type { HeadJob } from '../state/job-store.ts';
import type { CredentialMinter } from '../auth/minter.ts';
import { spawnActor } from '../supervisor/spawn.ts';
import type { ActorUsersIssued, JobStoreKeeper } from './options.ts';

type Placement = HeadJob['placement'][number];

/** One placed gang: its new ranks (`fresh`) are spawned; the survivors of a live gang (`kept`) are not. */
export interface GangPlaced {
  job: HeadJob;
  generation: number;
  placement: Placement[];
  fresh: Placement[];
  kept: Placement[];
  nodeOfRank: string[];
}

export class SpawnPipeline {
  /** `<node> <user>`: actor users this head has recorded as issued to a node (one per node: auth/minter.ts) */
  readonly #recorded = new Set<string>();

  constructor(
    private readonly d: {
      nc: NatsConnection;
      s: Subjects;
      minter?: CredentialMinter;
      stores?: JobStoreKeeper;
      issued?: ActorUsersIssued;
      spawnTimeoutMs: number;
      leaseMs: number;
    },
  ) {}

  /** A node registered (a new agent): its next actors get a new NATS user key. */
  forgetNode(nodeId: string): void {
    this.d.minter?.forgetNode(nodeId);
    for (const k of this.#recorded) if (k.startsWith(`${nodeId} `)) this.#recorded.delete(k);
  }

  /**
   * Spawns the gang's new ranks. `ended`: whether the job ended meanwhile (then `seal` is called
   * and nothing is spawned). Rejects when a step fails (the caller ends the generation).
   */
  async run(g: GangPlaced, ended: () => boolean, seal: () => void): Promise<void> {
    const { job: j, fresh } = g;
    const creds = new Map<string, string | undefined>();
    const issue = async () => {
      for (const p of fresh) creds.set(p.actorId, await this.d.minter?.actor(j.id, p.actorId, p.nodeId));
      // who got which actor user is on record before the creds leave the head (once per node and user)
      if (!this.d.issued) return;
      for (const nodeId of new Set(fresh.map((p) => p.nodeId))) {
        const users = [
          ...new Set(
            fresh
              .filter((p) => p.nodeId === nodeId)
              .map((p) => creds.get(p.actorId))
              .filter((c): c is string => !!c)
              .map(credsUser),
          ),
        ].filter((u) => !this.#recorded.has(`${nodeId} ${u}`));
        if (users.length === 0) continue;
        await this.d.issued(nodeId, users);
        for (const u of users) this.#recorded.add(`${nodeId} ${u}`);
      }
    };
    // the job's stores exist before any of its actors does (an actor may not create streams);
    // made ahead while the job queued (passes/prepare-ahead.ts), else now, beside the creds' record
    await Promise.all([this.d.stores?.ensure(j.id), issue()]);
    // it ended while they were being made (the seal at its end may have found none): seal them, spawn nothing
    if (ended()) {
      seal();
      return;
    }
    await Promise.all(
      fresh.map((p) => {
        const spec: ActorSpec = {
          actorId: p.actorId,
          jobId: j.id,
          generation: g.generation,
          rank: p.rank,
          worldSize: g.placement.length,
          nodeOfRank: g.nodeOfRank,
          job: j.spec,
          leaseMs: this.d.leaseMs,
          ...(g.kept.length > 0 ? { joinsLive: true } : {}),
          ...(p.gpus?.length ? { gpus: p.gpus } : {}),
        };
        return spawnActor(this.d.nc, this.d.s, p.nodeId, spec, this.d.spawnTimeoutMs, creds.get(p.actorId));
      }),
    );
  }
}

/** The NATS user (public key) of minted creds. */
function credsUser(creds: string): string {
  const sub = jwtClaims(credsJwt(creds)).sub;
  if (!sub) throw new FlotillaError('FLO_INTERNAL', 'minted actor creds name no user');
  return sub;
}
