/** The head: control plane of Flotilla (REST API, scheduler, supervisor, autoscaler, state in KV). */
export { startHead, type Head, type HeadOptions } from './head.ts';
export { build } from './api/app.ts';
export type { ApiContext, BuildOptions } from './api/context.ts';
export { Controller, type ControllerOptions } from './controller.ts';
export { JobStore, HeadJob } from './state/job-store.ts';
export { NodeStore, type LiveNode } from './state/node-store.ts';
export { isTerminal, canTransition } from './state/transitions.ts';
export { placeGang, type NodeCapacity } from './scheduler/placement.ts';
export { planPass, unmetDemand } from './scheduler/plan.ts';
export { Autoscaler, type AutoscalerOptions } from './autoscaler/autoscaler.ts';
export type { WorkerProvider } from './autoscaler/provider.ts';
export { LocalProvider, type LocalProviderOptions } from './autoscaler/provider-local.ts';
export { ExecProvider, type ExecProviderOptions } from './autoscaler/provider-exec.ts';
export {
  startNatsServer,
  startNatsCluster,
  freePort,
  natsServerBinary,
  type NatsServer,
  type NatsCluster,
  type StartOptions,
} from './embedded-nats.ts';
export { readEvents, type StoredEvent } from './events/read.ts';
