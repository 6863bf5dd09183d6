export { ActorToAgent, AgentToActor, ACTOR_EXIT_CODES } from './ipc.ts';
export { WARM_ENV } from './warm.ts';
export { abortableSleep } from './sleep.ts';
export {
  CheckpointStore,
  checkpointName,
  sha256Hex,
  STEP_DIGITS,
  META_SHA256,
  META_SIZE,
  META_STEP,
  type Checkpoint,
  type CheckpointEvent,
  type CheckpointStoreOptions,
} from './checkpoint-store.ts';
export { EventPublisher, ensureEventsStream } from './events.ts';
export { putArtifact, getArtifact, artifactName } from './artifacts.ts';
export { createActorGroup, groupOptions, type CollectiveGroup, type GroupOptions } from './group.ts';
export type { ActorContext, TrainerResult, TrainerModule, TrainerKind, TrainerRegistry, LogLevel } from './context.ts';
export { ActorRuntime, classify, type RuntimeOptions } from './runtime.ts';
