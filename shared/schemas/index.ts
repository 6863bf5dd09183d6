export { Id, WireErrorSchema, ControlReply } from './common.ts';
export {
  JOB_STATES, JobState, TERMINAL_STATES, ALLREDUCE_ALGORITHMS, AllreduceOptions, LogregTrainer, Yolov5Trainer,
  TrainerSpec, JobSpec, type JobSpecInput, JobPatch, Placement, JobRecord, JobReply, JobFence,
} from './job.ts';
export {
  ComputeBackend, NodeInfo, ActorBrief, WarmStats, NodeHeartbeat, ActorSpec, NodeControl, NodeRecord, JoinRequest, JoinGrant,
  NodeRegistered, ActorSpawned, ActorStopRequested, NodeDraining, FaultAccepted, NODE_CONTROL_REPLIES, type NodeControlReply,
} from './node.ts';
export {
  ACTOR_STATES, ActorState, ActorOutcome, ActorExit, JobAbort, KeptActor, CheckpointRequest, CheckpointDone, ActorCall, ActorResult,
  ACTOR_METHODS, ActorStatus, ActorStopping, ACTOR_CALL_REPLIES,
} from './actor.ts';
export { SYNC_MODES, SYNC_COMPRESSIONS, SYNC_DEFAULTS, SyncOptions, type SyncOptionsInput, type SyncMode, type SyncCompression, effectiveSync } from './sync.ts';
export { JobEvent } from './event.ts';
export { ClientDisconnectAdvisory, CLIENT_DISCONNECT_TYPE, CLIENT_CLOSED_REASON } from './advisory.ts';
export {
  FAULT_KINDS, FaultKind, TIMED_FAULTS, NODE_FAULTS, FaultTarget, FaultSpec, type FaultSpecInput, FaultRequest, FAULT_PHASES, FaultPhase,
  AGENT_FAULTS, HEAD_FAULTS, ArmedFault, FaultReport, FAULT_REPORT_PHASES, FaultsArmed,
} from './fault.ts';
export { MAX_NAME, MAX_PATH, MAX_TEXT, MAX_SECRET, MAX_STAMP, MAX_KEYS, MAX_RANKS, MAX_ROWS, clipText } from './bounds.ts';
export { MAX_NODE_GPUS, MAX_GPUS_PER_RANK, GpuIndex, GpuInfo, GpuStats, GPU_SOURCES, GpuSource, GpuList } from './gpu.ts';
export { DetectRequest, DetectBox, DetectReply, MAX_DETECT_IMAGE_BYTES, MAX_DETECT_PIXELS, DETECT_BODY_LIMIT } from './detect.ts';
