/** Sends `spawn` to a node agent and waits for its reply (the actor is forked); the NodeControl endpoint of shared/endpoints.ts. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ActorSpec, NodeControl, NodeControlReply, NodeInfo } from '../../shared/schemas/node.ts';
import type { ArmedFault } from '../../shared/schemas/fault.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { call, NoReply } from '../../shared/endpoint.ts';
import { NodeControlEndpoint } from '../../shared/endpoints.ts';
import type { Subjects } from '../../shared/subjects.ts';

async function control<Op extends NodeControl['op']>(
  nc: NatsConnection,
  s: Subjects,
  nodeId: string,
  msg: NodeControl & { op: Op },
  timeoutMs: number,
): Promise<NodeControlReply<Op>> {
  try {
    return (await call(nc, NodeControlEndpoint, s.nodeControl(nodeId), msg, { timeoutMs })) as NodeControlReply<Op>; // checked against NODE_CONTROL_REPLIES[op]
  } catch (e) {
    if (e instanceof NoReply)
      throw new FlotillaError('FLO_UNAVAILABLE', `node ${nodeId} did not answer '${msg.op}': ${(e.cause as Error).message}`, {
        cause: e.cause,
      });
    throw e;
  }
}

/** `creds`: the actor's own NATS credentials (only the node's agent can read its control subject). */
export async function spawnActor(
  nc: NatsConnection,
  s: Subjects,
  nodeId: string,
  actor: ActorSpec,
  timeoutMs: number,
  creds?: string,
): Promise<void> {
  await control(nc, s, nodeId, creds ? { op: 'spawn', actor, creds } : { op: 'spawn', actor }, timeoutMs);
}

export async function pingNode(nc: NatsConnection, s: Subjects, nodeId: string, timeoutMs: number): Promise<NodeInfo> {
  return control(nc, s, nodeId, { op: 'ping' }, timeoutMs);
}

/** Arms a fault on a node (NodeControl `fault`); resolves once the agent accepted it. */
export async function sendFault(nc: NatsConnection, s: Subjects, nodeId: string, fault: ArmedFault, timeoutMs: number): Promise<void> {
  await control(nc, s, nodeId, { op: 'fault', fault }, timeoutMs);
}
