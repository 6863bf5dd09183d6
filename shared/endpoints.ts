/**
 * Every request/reply endpoint of Flotilla (shared/endpoint.ts), with the subject it is asked on
 * (shared/subjects.ts) and who answers. Each request and reply is one schema in shared/schemas.
 */
import { z } from 'zod';
import { endpoint } from './endpoint.ts';
import {
  ACTOR_CALL_REPLIES,
  ActorCall,
  ActorStatus,
  ActorStopping,
  CheckpointDone,
  CheckpointRequest,
  FaultReport,
  JoinGrant,
  JoinRequest,
  NODE_CONTROL_REPLIES,
  NodeControl,
  NodeInfo,
  NodeRegistered,
  ActorSpawned,
  ActorStopRequested,
  NodeDraining,
  FaultAccepted,
} from './schemas/index.ts';

/** `nodeRegister(nodeId)`, answered by the head: a node announces itself. */
export const NodeRegister = endpoint({ name: 'node register', request: NodeInfo, reply: NodeRegistered });

/** `join(tokenId)`, answered by the head: a pool token is traded for a node's credentials. */
export const PoolJoin = endpoint({ name: 'pool join', request: JoinRequest, reply: JoinGrant });

/** `nodeFault(nodeId)`, answered by the head once it recorded the report. */
export const FaultReportEndpoint = endpoint({ name: 'fault report', request: FaultReport, reply: z.void() });

/** `jobCheckpoint(jobId, nodeId)`, answered by rank 0 of the job's current generation. */
export const DrainCheckpoint = endpoint({ name: 'drain checkpoint', request: CheckpointRequest, reply: CheckpointDone });

/** `nodeControl(nodeId)`, answered by the node's agent; each op has its own reply (NODE_CONTROL_REPLIES). */
export const NodeControlEndpoint = endpoint({
  name: 'node control',
  request: NodeControl,
  reply: z.union([NodeInfo, ActorSpawned, ActorStopRequested, NodeDraining, FaultAccepted]),
  replyOf: (req) => NODE_CONTROL_REPLIES[req.op],
});

/** `actorCall(actorId)`, answered by the actor. */
export const ActorCallEndpoint = endpoint({
  name: 'actor call',
  request: ActorCall,
  reply: z.union([ActorStatus, ActorStopping]),
  replyOf: (req) => ACTOR_CALL_REPLIES[req.method],
});
