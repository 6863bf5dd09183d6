/**
 * Every NATS subject and JetStream resource name in one place. A `prefix` (letters, digits,
 * `_`, `-`) isolates clusters and tests from each other; default "flotilla".
 */
export const DEFAULT_PREFIX = 'flotilla';

export function assertPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new Error(`invalid prefix '${prefix}': use 1-32 of [A-Za-z0-9_-]`);
  return prefix;
}

export function subjects(prefix: string = DEFAULT_PREFIX) {
  const p = assertPrefix(prefix);
  const up = p.toUpperCase().replace(/-/g, '_');
  return Object.freeze({
    prefix: p,
    // control plane
    nodeRegister: `${p}.node.register`,
    nodeHeartbeat: `${p}.node.heartbeat`,
    nodeLeaving: `${p}.node.leaving`,
    nodeControl: (nodeId: string) => `${p}.node.${nodeId}.ctl`,
    actorExit: `${p}.actor.exit`,
    actorCall: (actorId: string) => `${p}.actor.${actorId}.call`,
    jobAbort: (jobId: string) => `${p}.job.${jobId}.abort`,
    jobAbortAll: `${p}.job.*.abort`,
    jobCheckpoint: (jobId: string) => `${p}.job.${jobId}.checkpoint`,
    // events (a JetStream stream captures these)
    jobEvents: (jobId: string) => `${p}.events.${jobId}`,
    allJobEvents: `${p}.events.>`,
    // collective communication (plain pub/sub)
    collective: (jobId: string, generation: number) => `${p}.coll.${jobId}.g${generation}`,
    // JetStream resources
    eventsStream: `${up}_EVENTS`,
    jobsBucket: `${p}_jobs`,
    nodesBucket: `${p}_nodes`,
    headBucket: `${p}_head`,
    checkpointStore: `${p}_ckpt`,
    artifactStore: `${p}_artifacts`,
  });
}

export type Subjects = ReturnType<typeof subjects>;
