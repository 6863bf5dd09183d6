/**
 * Subject permissions of the three NATS identities. The head may do everything; a worker agent
 * only speaks on its own node subjects (so the head knows a message on `node.<id>.…` or
 * `exit.<id>` came from node <id>); an actor only on its job's collective and event subjects
 * and its job's own checkpoint and artifact object stores (made by the head; no actor creates
 * a stream of them). KV buckets (`$KV.…`) and JetStream administration other than those object
 * stores stay the head's alone. Every identity has its own inbox
 * prefix, so no one reads another's replies.
 */
import type { Subjects } from '../../shared/subjects.ts';
import { exitsStreamName } from '../resources.ts';
import { jsApiPrefix, jsDomain } from '../../shared/js-domain.ts';

export interface Permissions {
  pub?: { allow?: string[]; deny?: string[] };
  sub?: { allow?: string[]; deny?: string[] };
  resp?: { max: number; ttl: number };
}

/** The inbox prefix of a worker node / an actor (also what their connections set as `inboxPrefix`). */
export const nodeInbox = (nodeId: string): string => `_INBOX.n.${nodeId}`;
export const actorInbox = (actorId: string): string => `_INBOX.a.${actorId}`;

const RESP = { max: 1, ttl: 0 };

export function headPermissions(): Permissions {
  return {};
}

/** The inbox of a pool join token's holders (shared by every worker joining with it: the grant carries no secret). */
export const joinInbox = (tokenId: string): string => `_INBOX.j.${tokenId}`;

/** A pool join token's user: it may only ask the head for node credentials. */
export function joinerPermissions(s: Subjects, tokenId: string): Permissions {
  return { pub: { allow: [s.join(tokenId)] }, sub: { allow: [`${joinInbox(tokenId)}.>`] } };
}

export function workerPermissions(s: Subjects, nodeId: string): Permissions {
  return {
    pub: { allow: [s.nodeSubjects(nodeId), s.actorExit(nodeId), s.jobCheckpointBy(nodeId)] },
    sub: { allow: [s.nodeControl(nodeId), s.jobAbortAll, `${nodeInbox(nodeId)}.>`] },
    resp: RESP,
  };
}

/**
 * JetStream API subjects an object store client needs (info, put with purge, get/list consumers); the store must exist (no STREAM.CREATE).
 * Only what nats.js's object store sends to a 2.9+ server (it reads metadata with STREAM.MSG.GET, never DIRECT.GET, and names its
 * consumers): an actor's JWT travels in its CONNECT line, which nats-server caps at max_control_line (4 KiB by default).
 */
function objectStoreApi(bucket: string): string[] {
  const st = `OBJ_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${st}`,
    `$JS.API.STREAM.PURGE.${st}`,
    `$JS.API.STREAM.MSG.GET.${st}`,
    `$JS.API.CONSUMER.CREATE.${st}.>`,
    `$JS.API.CONSUMER.DELETE.${st}.>`,
    `$JS.API.CONSUMER.INFO.${st}.>`,
    `$O.${bucket}.>`,
    `$JS.ACK.${st}.>`,
  ];
}

/** The read-only part: no stream creation, no purge, no chunk publishes (`$O.…`). */
function objectStoreReadApi(bucket: string): string[] {
  const st = `OBJ_${bucket}`;
  return objectStoreApi(bucket).filter(
    (x) => !x.startsWith('$O.') && x !== `$JS.API.STREAM.CREATE.${st}` && x !== `$JS.API.STREAM.PURGE.${st}`,
  );
}

export function actorPermissions(s: Subjects, jobId: string, actorId: string, api: string = jsApiPrefix(jsDomain())): Permissions {
  return withJsApi(api, {
    pub: {
      allow: [
        `${s.collectiveJob(jobId)}.>`,
        s.jobEvents(jobId),
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${s.eventsStream}`,
        `$JS.API.STREAM.CREATE.${s.eventsStream}`,
        '$JS.FC.>',
        ...objectStoreApi(s.jobStore(jobId, 'ckpt')),
        ...objectStoreApi(s.jobStore(jobId, 'art')),
        // pushed datasets (dataset://NAME), read only
        ...objectStoreReadApi(s.datasetStore),
        // the self-fencing lease reads its job's record (reads only: no `$KV.` publish)
        `$JS.API.STREAM.INFO.KV_${s.jobsBucket}`,
        `$JS.API.STREAM.MSG.GET.KV_${s.jobsBucket}`,
        `$JS.API.DIRECT.GET.KV_${s.jobsBucket}.$KV.${s.jobsBucket}.${jobId}`,
      ],
    },
    sub: {
      allow: [
        `${s.collectiveJob(jobId)}.>`,
        s.jobAbort(jobId),
        s.jobCheckpointAny(jobId),
        s.actorCall(actorId),
        `${actorInbox(actorId)}.>`,
      ],
    },
    resp: RESP,
  });
}

/**
 * The permissions with every JetStream API subject (`$JS.API.…`, as written above) also under the
 * API prefix `api` (jsApiPrefix of shared/js-domain.ts: `$JS.<domain>.API`), the one clients of
 * that domain ask on. Both are needed: a server of that domain checks a client's publish after
 * the account's domain mapping (`$JS.<domain>.API.>` → `$JS.API.>`: "Permissions Violation for
 * Publish to $JS.API.INFO" for a request sent on `$JS.flotilla.API.INFO`), a leaf server without
 * JetStream checks the subject as sent. Acks and flow control (`$JS.ACK.…`, `$JS.FC.…`) have no
 * domain.
 */
export function withJsApi(api: string, p: Permissions): Permissions {
  const move = (list?: string[]) =>
    list?.flatMap((x) => (x.startsWith('$JS.API.') && api !== '$JS.API' ? [x, `${api}.${x.slice('$JS.API.'.length)}`] : [x]));
  const side = (x?: { allow?: string[]; deny?: string[] }) =>
    x && { ...(x.allow ? { allow: move(x.allow) } : {}), ...(x.deny ? { deny: move(x.deny) } : {}) };
  return { ...p, ...(p.pub ? { pub: side(p.pub) } : {}), ...(p.sub ? { sub: side(p.sub) } : {}) };
}

/**
 * The user a worker host's leaf server connects to the cluster as (`leaf.creds` of `flotilla
 * leaf-creds --node N…`), bound to the cluster's prefix and to the node ids that host runs. The
 * leaf holds each local process to its own permissions; this user bounds what the whole host
 * may send up (a leaf connection's publish permissions) and receive (its subscribe permissions):
 * the union of what its agents and any actor may do (nats-permissions above), with the node ids
 * fixed and the jobs not (any job's actors may be placed on the host). Whoever is root there and
 * connects with it directly cannot speak for another host's nodes (their node and exit subjects;
 * checkpoint asks excepted, below), read another node's control requests (a spawn carries the actor's creds) or inbox,
 * or do what only the head may: write, purge or delete KV, touch the exits and events streams
 * beyond what actors do, delete the head's consumers, send node control requests or job aborts,
 * update or delete streams. Any JetStream domain (`$JS.*.API`).
 */
export function leafPermissions(s: Subjects, nodes: readonly string[]): Permissions {
  if (nodes.length === 0) throw new Error('a leaf user is bound to at least one node id');
  for (const n of nodes) if (!/^[A-Za-z0-9_-]{1,64}$/.test(n)) throw new Error(`invalid node id '${n}': use 1-64 of [A-Za-z0-9_-]`);
  // the head's own streams: no purge, no consumer of anyone else's, no ack on them (actors only read KV_<jobs> directly)
  const headStreams = [
    ...[s.jobsBucket, s.nodesBucket, s.headBucket, s.tokensBucket, s.studiesBucket].map((b) => `KV_${b}`),
    s.eventsStream,
    exitsStreamName(s),
  ];
  return withJsApi('$JS.*.API', {
    pub: {
      allow: [
        // A cluster server tells a leaf of a wildcard subscription (the head's `<p>.node.*.register`)
        // only when an allow entry matches it token for token, so each node subject the head
        // subscribes to by wildcard is listed as it is (nats-server 2.9); `<p>.node.<id>.>` alone is not enough.
        ...nodes.flatMap((n) => [
          s.nodeSubjects(n),
          s.nodeRegister(n),
          s.nodeHeartbeat(n),
          s.nodeLeaving(n),
          s.nodeFault(n),
          s.actorExit(n),
        ]),
        // the same rule lets a checkpoint ask (`<p>.job.<job>.checkpoint.<node>`, to actors that
        // subscribe `<p>.job.<job>.checkpoint.*`) cross only with the asker token open: a host can
        // ask in another node's name (an ask makes rank 0 checkpoint and hold its gang up to 20 s:
        // a way to stall a job, as disturbing its collective is)
        s.jobCheckpointAny('*'),
        s.allJoin,
        `${s.collectiveJob('*')}.>`,
        s.allJobEvents,
        '_INBOX.>',
        // what actors ask of JetStream (actorPermissions), for any job: object stores, the events stream, fencing reads
        '$JS.API.INFO',
        '$JS.API.STREAM.INFO.*',
        `$JS.API.STREAM.CREATE.${s.eventsStream}`,
        '$JS.API.STREAM.PURGE.*',
        '$JS.API.STREAM.MSG.GET.*',
        '$JS.API.DIRECT.GET.>',
        '$JS.API.CONSUMER.CREATE.*.>',
        '$JS.API.CONSUMER.DELETE.*.>',
        '$JS.API.CONSUMER.INFO.*.>',
        '$O.*.>',
        '$JS.ACK.>',
        '$JS.FC.>',
      ],
      deny: [
        '$KV.>',
        `$O.${s.datasetStore}.>`,
        s.nodeControl('*'),
        s.jobAbortAll,
        ...headStreams.flatMap((st) => [
          `$JS.API.STREAM.PURGE.${st}`,
          `$JS.API.CONSUMER.CREATE.${st}.>`,
          `$JS.API.CONSUMER.DELETE.${st}.>`,
          `$JS.ACK.${st}.>`,
        ]),
        // pushed datasets: read only (actors make and remove their own read consumers there)
        `$JS.API.STREAM.PURGE.OBJ_${s.datasetStore}`,
      ],
    },
    sub: {
      allow: [
        ...nodes.flatMap((n) => [s.nodeControl(n), `${nodeInbox(n)}.>`]),
        s.jobAbortAll,
        s.jobCheckpointAny('*'),
        `${s.collectiveJob('*')}.>`,
        s.actorCall('*'),
        `${actorInbox('*')}.>`.replace('.*.>', '.>'),
        `${joinInbox('*')}.>`.replace('.*.>', '.>'),
      ],
    },
  });
}
