/**
 * Every NATS subject and JetStream resource name in one place. A `prefix` (letters, digits,
 * `_`, `-`) isolates clusters and tests from each other; default "flotilla".
 */
export const DEFAULT_PREFIX = 'flotilla';

export function assertPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new Error(`invalid prefix '${prefix}': use 1-32 of [A-Za-z0-9_-]`);
  return prefix;
}

/** The object stores every job has: its checkpoints and its artifacts. */
export const JOB_STORE_KINDS = ['ckpt', 'art'] as const;
export type JobStoreKind = (typeof JOB_STORE_KINDS)[number];

/** A job id goes into bucket names and permission subjects: letters, digits, `_`, `-` only (schemas/common.ts `Id`). */
function assertJobId(jobId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(jobId)) throw new Error(`invalid job id '${jobId}': use 1-64 of [A-Za-z0-9_-]`);
  return jobId;
}

export function subjects(prefix: string = DEFAULT_PREFIX) {
  const p = assertPrefix(prefix);
  const up = p.toUpperCase().replace(/-/g, '_');
  return Object.freeze({
    prefix: p,
    // control plane: a node speaks only on subjects that carry its id (its NATS user may
    // publish nowhere else), so the subject names the speaker; the head subscribes the wildcards
    nodeRegister: (nodeId: string) => `${p}.node.${nodeId}.register`,
    allNodeRegister: `${p}.node.*.register`,
    nodeHeartbeat: (nodeId: string) => `${p}.node.${nodeId}.heartbeat`,
    allNodeHeartbeats: `${p}.node.*.heartbeat`,
    nodeLeaving: (nodeId: string) => `${p}.node.${nodeId}.leaving`,
    allNodeLeaving: `${p}.node.*.leaving`,
    nodeControl: (nodeId: string) => `${p}.node.${nodeId}.ctl`,
    /** a node's reports about the faults it carries out (requests to the head) */
    nodeFault: (nodeId: string) => `${p}.node.${nodeId}.fault`,
    allNodeFault: `${p}.node.*.fault`,
    /** pool join tokens: a joining worker asks for its node credentials here */
    join: (tokenId: string) => `${p}.join.${tokenId}`,
    allJoin: `${p}.join.*`,
    /** every subject of one node (its publish permission) */
    nodeSubjects: (nodeId: string) => `${p}.node.${nodeId}.>`,
    actorExit: (nodeId: string) => `${p}.exit.${nodeId}`,
    allActorExits: `${p}.exit.*`,
    actorCall: (actorId: string) => `${p}.actor.${actorId}.call`,
    jobAbort: (jobId: string) => `${p}.job.${jobId}.abort`,
    jobAbortAll: `${p}.job.*.abort`,
    /** asked by node `nodeId` (the last token names the asker: only that node may publish it) */
    jobCheckpoint: (jobId: string, nodeId: string) => `${p}.job.${jobId}.checkpoint.${nodeId}`,
    jobCheckpointAny: (jobId: string) => `${p}.job.${jobId}.checkpoint.*`,
    jobCheckpointBy: (nodeId: string) => `${p}.job.*.checkpoint.${nodeId}`,
    // events (a JetStream stream captures these)
    jobEvents: (jobId: string) => `${p}.events.${jobId}`,
    allJobEvents: `${p}.events.>`,
    // collective communication (plain pub/sub)
    collective: (jobId: string, generation: number) => `${p}.coll.${jobId}.g${generation}`,
    /** parent of every generation's collective subjects of a job */
    collectiveJob: (jobId: string) => `${p}.coll.${jobId}`,
    // JetStream resources
    eventsStream: `${up}_EVENTS`,
    jobsBucket: `${p}_jobs`,
    nodesBucket: `${p}_nodes`,
    headBucket: `${p}_head`,
    tokensBucket: `${p}_tokens`,
    /** hyperparameter studies (head/state/study-store.ts) */
    studiesBucket: `${p}_studies`,
    /**
     * A job's own object store, the one name every reader and writer of a job's checkpoints
     * (`ckpt`) or artifacts (`art`) goes through: `<prefix>_<kind>_<jobId>` (stream
     * `OBJ_<prefix>_<kind>_<jobId>`, at most 105 characters). One bucket per job and kind, so an
     * actor's permissions can name its job's buckets: an object's metadata subject carries
     * base64(name), which has no token boundary a permission could cut at.
     */
    jobStore: (jobId: string, kind: JobStoreKind) => `${p}_${kind}_${assertJobId(jobId)}`,
    /** pushed datasets (`flotilla dataset push`), one tar object per name */
    datasetStore: `${p}_datasets`,
  });
}

export type Subjects = ReturnType<typeof subjects>;

/** The node a per-node subject names (`<p>.node.<id>.…`, `<p>.exit.<id>`): who sent it, since only that node may publish there. */
export function nodeOfSubject(subject: string): string | undefined {
  return subject.split('.')[2];
}
