/**
 * Why a node's registration finds no head, said once, for the operator. A request with no
 * subscriber anywhere comes back at once as "no responders". On a leaf server that is also what a
 * node id outside the leaf's `leaf.creds` gets: the cluster tells the leaf only of the subjects its
 * user may send, so the head's subscription never shows there. When the head answered this
 * node's pool join a moment ago it is up, and the leaf's creds are the cause: the agent stops.
 */
import { RequestError } from '@nats-io/transport-node';

/** Consecutive no-responders answers after which the agent says why (and, with a head proven up, stops). */
export const NO_RESPONDERS_LIMIT = 3;

export function isNoResponders(err: unknown): boolean {
  if (err instanceof Error && !(err instanceof RequestError) && err.cause !== undefined) return isNoResponders(err.cause); // a NoReply of shared/endpoint.ts
  return err instanceof RequestError && err.isNoResponders();
}

/** The line: the node id, the server, and what to run. */
export function unregisteredMessage(nodeId: string, server: string, leaf: boolean, headProven: boolean): string {
  const cause = headProven
    ? `the head answered this node's join a moment ago, so the server does not carry node ${nodeId}'s subjects`
    : `either no head runs, or the server does not carry node ${nodeId}'s subjects`;
  return (
    `node ${nodeId}: no head answers its registration on ${server}${leaf ? ' (a leaf server)' : ''}: ${cause}. ` +
    `A leaf server forwards only the node ids of its leaf.creds: make them for this node where the trust dir is ` +
    `(flotilla leaf-creds --trust /etc/flotilla/nats --node ${nodeId} --out leaf.creds), copy them to this host's ` +
    `/etc/flotilla/nats/leaf.creds and restart the leaf server, or start this worker with --node-id <a node id its leaf.creds name>`
  );
}
