/** Sends `spawn` to a node agent and waits for its ControlReply (the actor is forked). */
import type { NatsConnection } from '@nats-io/transport-node';
import { ControlReply } from '../../shared/schemas/common.ts';
import type { ActorSpec, NodeControl, NodeInfo } from '../../shared/schemas/node.ts';
import type { ArmedFault } from '../../shared/schemas/fault.ts';
import { NodeInfo as NodeInfoSchema } from '../../shared/schemas/node.ts';
import { decode, encode, validate } from '../../shared/codec.ts';
import { FlotillaError, fromWire } from '../../shared/errors.ts';
import type { Subjects } from '../../shared/subjects.ts';

async function control(nc: NatsConnection, s: Subjects, nodeId: string, msg: NodeControl, timeoutMs: number): Promise<unknown> {
  let reply;
  try {
    reply = await nc.request(s.nodeControl(nodeId), encode(msg), { timeout: timeoutMs });
  } catch (e) {
    throw new FlotillaError('FLO_UNAVAILABLE', `node ${nodeId} did not answer '${msg.op}': ${(e as Error).message}`, { cause: e });
  }
  const r = decode(ControlReply, reply.data);
  if (!r.ok) throw fromWire(r.error);
  return r.result;
}

/** `creds`: the actor's own NATS credentials (only the node's agent can read its control subject). */
export async function spawnActor(nc: NatsConnection, s: Subjects, nodeId: string, actor: ActorSpec, timeoutMs: number, creds?: string): Promise<void> {
  await control(nc, s, nodeId, creds ? { op: 'spawn', actor, creds } : { op: 'spawn', actor }, timeoutMs);
}

export async function pingNode(nc: NatsConnection, s: Subjects, nodeId: string, timeoutMs: number): Promise<NodeInfo> {
  return validate(NodeInfoSchema, await control(nc, s, nodeId, { op: 'ping' }, timeoutMs));
}

/** Arms a fault on a node (NodeControl `fault`); resolves once the agent accepted it. */
export async function sendFault(nc: NatsConnection, s: Subjects, nodeId: string, fault: ArmedFault, timeoutMs: number): Promise<void> {
  await control(nc, s, nodeId, { op: 'fault', fault }, timeoutMs);
}
