/** The command table: one line per command, each module owned by its feature. */
export const COMMAND_TABLE: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  worker: { summary: 'run a worker node agent (spawns trainer actors)', load: () => import('./worker.ts') },
  dataset: {
    summary: 'push a YOLO dataset folder to the cluster (jobs use data: dataset://NAME); list them',
    load: () => import('./dataset.ts'),
  },
  synth: { summary: 'write the deterministic synthetic detection set (YOLO format)', load: () => import('./synth.ts') },
  train: {
    summary: 'train YOLOv5 in one process (--data DATA.yaml|synthetic --cfg --img --epochs --batch)',
    load: () => import('./train.ts'),
  },
  val: { summary: 'validate a checkpoint: P, R, mAP@0.5, mAP@0.5:0.95', load: () => import('./val.ts') },
  detect: {
    summary: 'run weights (a YOLOv5 .pt or a checkpoint) on images: annotated images and YOLO txt in runs/detect/expN',
    load: () => import('./detect.ts'),
  },
  export: {
    summary: 'export weights (a YOLOv5 .pt or a checkpoint) to ONNX and TensorFlow.js, as export.py --include onnx,tfjs',
    load: () => import('./export.ts'),
  },
  model: {
    summary: 'build a YOLOv5 model from its yaml and print its summary (layers, parameters, GFLOPs)',
    load: () => import('./model.ts'),
  },
  demo: {
    summary: 'the main job: a local cluster trains YOLOv5n on the synthetic set and prints its mAP',
    load: () => import('./demo.ts'),
  },
  up: { summary: 'start nats-server, the head and N local workers in the foreground', load: () => import('./up.ts') },
  head: { summary: 'run the head (REST API, scheduler, supervisor, autoscaler)', load: () => import('./head.ts') },
  submit: { summary: 'submit a job from a JSON/YAML file or flags; prints its id', load: () => import('./submit.ts') },
  tune: {
    summary: 'hyperparameter search: run a study (tune STUDY.yaml) of trials as jobs, print the best, write evolve.csv',
    load: () => import('./tune.ts'),
  },
  status: { summary: 'show a job (or all jobs and workers); --json for machines', load: () => import('./status.ts') },
  logs: { summary: "print a job's events; -f follows until the job ends", load: () => import('./logs.ts') },
  report: { summary: "a job's fault report: detection, recovery, steps lost, restarts, invariants", load: () => import('./report.ts') },
  chaos: {
    summary: 'run a fault-injection plan (chaos run PLAN.yaml) against the cluster; exits 1 on a violated invariant',
    load: () => import('./chaos.ts'),
  },
  cancel: { summary: 'cancel a pending or running job', load: () => import('./cancel.ts') },
  scale: { summary: "change a job's number of workers", load: () => import('./scale.ts') },
  fault: {
    summary: 'inject a fault into a running job (kill, stall, partition, slow link, NaN gradient, …)',
    load: () => import('./fault.ts'),
  },
  token: { summary: 'create, list or revoke REST tokens and worker join tokens', load: () => import('./token.ts') },
  certs: {
    summary: "create a CA and the NATS servers' TLS certificate (deploy/nats cluster and leaf configs)",
    load: () => import('./certs.ts'),
  },
  'leaf-creds': {
    summary: "a worker host's leaf server creds, bound to that host's node ids (deploy/nats/leaf)",
    load: () => import('./leaf-creds.ts'),
  },
  'nats-trust': {
    summary: 'create the NATS trust chain (auth.conf, head creds, signing key) for deploy/nats configs',
    load: () => import('./nats-trust.ts'),
  },
};
