/** Job specs (REST bodies) and the job record kept in JetStream KV. */
import { z } from 'zod';
import { MAX_KEYS, MAX_LISTED, MAX_NAME, MAX_PATH, MAX_RANKS, MAX_STAMP, MAX_TEXT } from './bounds.ts';
import { Id } from './common.ts';
import { DATASET_SCHEME, isDatasetFileRef } from '../dataset-ref.ts';
import { FaultSpec } from './fault.ts';
import { SYNC_DEFAULTS, SyncOptions } from './sync.ts';
import { GpuList, MAX_GPUS_PER_RANK } from './gpu.ts';

export const JOB_STATES = ['pending', 'running', 'recovering', 'succeeded', 'failed', 'cancelled'] as const;
export const JobState = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobState>;
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export const ALLREDUCE_ALGORITHMS = ['auto', 'ring', 'multicast', 'hierarchical'] as const;
export const AllreduceOptions = z
  .object({
    /** algorithm; "auto" picks from size and topology (default) */
    algorithm: z.enum(ALLREDUCE_ALGORITHMS).default('auto'),
    /** send fp16 on the wire (default false) */
    fp16: z.boolean().default(false),
    /** ms before an allreduce rejects naming the ranks not heard from (default 30000) */
    timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();

/** A small real trainer: logistic regression on generated data (platform tests, smoke runs). */
export const LogregTrainer = z
  .object({
    kind: z.literal('logreg'),
    steps: z.number().int().positive().max(1_000_000).default(50),
    batch: z.number().int().positive().max(65_536).default(64),
    features: z.number().int().positive().max(4096).default(16),
    lr: z.number().positive().max(100).default(0.5),
    seed: z.number().int().nonnegative().default(1),
    /** artificial delay per step, to make fault-injection windows wide enough (default 0) */
    step_delay_ms: z.number().int().nonnegative().max(60_000).default(0),
  })
  .strict();

/** YOLOv5 training on a YOLO-format dataset or the built-in synthetic set. */
export const Yolov5Trainer = z
  .object({
    kind: z.literal('yolov5'),
    /** architecture yaml: yolov5n/s/m/l/x.yaml or a path (default yolov5n.yaml) */
    cfg: z.string().min(1).max(MAX_PATH).default('yolov5n.yaml'),
    /** dataset yaml path, or "synthetic" for the generated set (default synthetic) */
    data: z.string().min(1).max(MAX_PATH).default('synthetic'),
    img: z.number().int().min(32).max(1280).multipleOf(32).default(320),
    epochs: z.number().int().positive().max(10_000).default(10),
    /** total batch across all workers (default 16) */
    batch: z.number().int().positive().max(4096).default(16),
    /** nominal batch for gradient accumulation, as train.py's nbs (default 64) */
    nbs: z.number().int().positive().max(4096).default(64),
    /** hyperparameter overrides (hyp.scratch-low keys) */
    hyp: z
      .record(z.string().max(MAX_NAME), z.number())
      .refine((h) => Object.keys(h).length <= MAX_KEYS, `at most ${MAX_KEYS} keys`)
      .default({}),
    /** synthetic set size when data = "synthetic" */
    synthetic: z
      .object({
        train: z.number().int().positive().default(64),
        val: z.number().int().positive().default(16),
        seed: z.number().int().default(0),
      })
      .strict()
      .default({ train: 64, val: 16, seed: 0 }),
    seed: z.number().int().nonnegative().default(0),
    /** epochs without a better validation fitness before the job stops early, as train.py (default 100, 0 never) */
    patience: z.number().int().nonnegative().default(100),
    /** freeze: one number N freezes layers 0..N-1, several freeze the listed layers (default none) */
    freeze: z.array(z.number().int().nonnegative()).max(1000).default([]),
    /** cosine (one-cycle) lr instead of linear, as train.py --cos-lr */
    cos_lr: z.boolean().default(false),
    /** keep the cfg's anchors: no AutoAnchor check and re-fit before training, as train.py --noautoanchor */
    noautoanchor: z.boolean().default(false),
    /** class label smoothing epsilon, as train.py --label-smoothing (targets 1 − ε/2, ε/2); wins over hyp.label_smoothing */
    label_smoothing: z.number().min(0).max(1).optional(),
    /** train as one class, as train.py --single-cls: every label is class 0, names ['item'] (a one-name dataset keeps its name) */
    single_cls: z.boolean().default(false),
    /** train.py --optimizer: SGD (Nesterov), Adam or AdamW with betas (momentum, 0.999); no decay on BN weights and biases */
    optimizer: z.enum(['SGD', 'Adam', 'AdamW']).default('SGD'),
    /**
     * train.py --cache on every rank: decoded images kept in RAM ('ram'), in IMAGE.<img>.rgb files
     * beside the images ('disk'), the encoded files in RAM ('encoded') or none ('none'); a rank
     * whose memory cannot hold the cache fails the job naming the bytes needed and available
     * (default: 'ram' for a set that needs at most 1 GiB and a tenth of the free memory, else 'none')
     */
    cache: z.enum(['ram', 'disk', 'encoded', 'none']).optional(),
    /** also keep the checkpoint of every N-th epoch as the artifact epochN.ckpt, as train.py --save-period (default 0: none) */
    save_period: z.number().int().nonnegative().max(10_000).default(0),
    /** train.py --rect: training batches of aspect-ratio-sorted images, one letterbox shape per batch (pad 0); no mosaic, no shuffle */
    rect: z.boolean().default(false),
    /** train.py --multi-scale: each batch resized to a size drawn in [0.5, 1.5]·img (a multiple of 32), the same draw on every rank */
    multi_scale: z.boolean().default(false),
    /** train.py --image-weights: each epoch draws its images with replacement, weighted by rare and badly detected classes (one draw, sharded over the ranks) */
    image_weights: z.boolean().default(false),
    /**
     * a checkpoint file on every worker (`flotilla train`'s weights/last.ckpt) to continue from
     * while the job has none of its own yet; the job's settings must build the same model
     */
    resume: z.string().min(1).max(MAX_PATH).optional(),
    /**
     * pretrained weights for a fresh job, as train.py --weights: a YOLOv5 .pt (Ultralytics) or a
     * flotilla checkpoint, by a path on every worker or `dataset://NAME/FILE` (FILE inside the
     * folder pushed with `flotilla dataset push`); layers whose names and shapes match are
     * transferred (the cfg's anchors are kept, as train.py does when --cfg is given)
     */
    weights: z
      .string()
      .min(1)
      .max(MAX_PATH)
      .refine((w) => !w.startsWith(DATASET_SCHEME) || isDatasetFileRef(w.slice(DATASET_SCHEME.length)), {
        message: `use a path, or ${DATASET_SCHEME}NAME/FILE with FILE a relative path inside the pushed dataset (no '..')`,
      })
      .optional(),
  })
  .strict();

export const TrainerSpec = z.discriminatedUnion('kind', [LogregTrainer, Yolov5Trainer]);
export type TrainerSpec = z.infer<typeof TrainerSpec>;

/** POST /v1/jobs body. */
export const JobSpec = z
  .object({
    name: z.string().min(1).max(128).optional(),
    /** number of trainer actors (ranks); default 1 */
    workers: z.number().int().positive().max(1024).default(1),
    /** GPUs each rank needs (0..16, default 0): ranks go only to nodes with that many free, pinned to them */
    gpus_per_rank: z.number().int().min(0).max(MAX_GPUS_PER_RANK).default(0),
    /** elastic jobs: shrink down to this many on failure instead of waiting (default = workers) */
    min_workers: z.number().int().positive().max(1024).optional(),
    /** higher runs first among pending jobs (default 0) */
    priority: z.number().int().min(-100).max(100).default(0),
    /** restarts of the gang before the job fails (default 3) */
    max_restarts: z.number().int().nonnegative().max(1000).default(3),
    /** steps between checkpoints written by rank 0 (default 10) */
    checkpoint_every: z.number().int().positive().max(1_000_000).default(10),
    trainer: TrainerSpec,
    allreduce: AllreduceOptions.default({ algorithm: 'auto', fp16: false, timeout_ms: 30_000 }),
    /** how the ranks agree: allreduce every step (default), local-sgd, diloco or streaming (docs/sync.md) */
    sync: SyncOptions.default({ ...SYNC_DEFAULTS }),
    /**
     * how a gang recovers from a lost rank: "live" (survivors keep their process and state, only
     * the lost rank is replaced and fetches the state from a peer; the checkpoint is the fallback)
     * or "checkpoint" (every rank restarts from the newest checkpoint)
     */
    recovery: z.enum(['live', 'checkpoint']).default('live'),
    /** planned fault-injection experiment: armed when the job first runs (shared/schemas/fault.ts) */
    faults: z.array(FaultSpec).max(100).default([]),
  })
  .strict()
  .refine((j) => j.min_workers === undefined || j.min_workers <= j.workers, {
    path: ['min_workers'],
    message: 'min_workers must be <= workers',
  });
export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;

/** PATCH /v1/jobs/:id body. */
export const JobPatch = z.object({ workers: z.number().int().positive().max(1024) }).strict();
export type JobPatch = z.infer<typeof JobPatch>;

export const Placement = z.object({
  rank: z.number().int().nonnegative(),
  nodeId: Id,
  actorId: Id,
  /** the node's GPU indices this rank holds (absent: none) */
  gpus: GpuList.optional(),
});
export type Placement = z.infer<typeof Placement>;

/** The job as stored in KV (key = id) and returned by GET /v1/jobs/:id. */
export const JobRecord = z.object({
  id: Id,
  spec: JobSpec,
  state: JobState,
  generation: z.number().int().nonnegative(),
  restarts: z.number().int().nonnegative(),
  /** last step reported by rank 0 */
  step: z.number().int().nonnegative(),
  /** newest verified checkpoint step, if any */
  checkpoint_step: z.number().int().nonnegative().nullable(),
  placement: z.array(Placement).max(MAX_RANKS),
  message: z.string().max(MAX_TEXT).optional(),
  metrics: z
    .record(z.string().max(MAX_NAME), z.number())
    .refine((m) => Object.keys(m).length <= MAX_KEYS, `at most ${MAX_KEYS} values`)
    .default({}),
  created_at: z.string().max(MAX_STAMP),
  updated_at: z.string().max(MAX_STAMP),
  /** FIFO order among equal priorities */
  seq: z.number().int().nonnegative(),
  /** the token id that submitted it (a submitter may cancel or scale only its own jobs) */
  owner: z.string().max(MAX_NAME).optional(),
  /** the study this job is a trial of (docs/tune.md) */
  study: Id.optional(),
  /** SHA-256 of the final training state, as rank 0 reported it on success (logreg: parameters; YOLOv5: last.ckpt's tensors) */
  final_digest: z.string().max(MAX_STAMP).optional(),
  /** earliest time the next placement may be tried (restart backoff) */
  not_before: z.string().max(MAX_STAMP).optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/**
 * A job as REST answers it: the record plus how stale the head's copy may be (ms; 0 while
 * the head is connected to NATS and its lease renews, else the time since it last was).
 * Also sent as the `x-flotilla-stale-ms` header.
 */
export const JobReply = JobRecord.extend({ stale_ms: z.number().int().nonnegative().default(0) });
export type JobReply = z.infer<typeof JobReply>;
/** GET /v1/jobs reply. */
export const JobList = z.object({ jobs: z.array(JobReply).max(MAX_LISTED), stale_ms: z.number().int().nonnegative() });
export type JobList = z.infer<typeof JobList>;

/**
 * What an actor reads of its job's KV record to fence itself (worker/actor/fence.ts): a newer
 * generation whose placement still names the actor keeps it (live recovery).
 */
export const JobFence = JobRecord.pick({ id: true, state: true, generation: true }).extend({
  placement: z.array(Placement).max(MAX_RANKS).default([]),
  /** the newest checkpoint the head saw stored (an actor that must resume does not start without it) */
  checkpoint_step: z.number().int().nonnegative().nullable().default(null),
});
export type JobFence = z.infer<typeof JobFence>;
