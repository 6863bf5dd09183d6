/**
 * The FLOTILLA_* variables the platform reads outside `Config` (shared/config.ts), each with the
 * reason it is not a Config key. Every other FLOTILLA_* name read in head/, worker/, shared/ or
 * bin/ must be a Config variable (CONFIG_ENV_NAMES): test/shared/env-names.test.ts greps the tree
 * and fails on a name in neither place (or a name listed here that nothing reads any more), and
 * docs/reference/configuration.md renders this table (npm run docs:gen).
 */
export const OTHER_ENV_REASONS = {
  handoff: 'child-process handoff: set by the process that starts this one, not by an operator',
  client: "client side: read by the CLI's client commands, which load no cluster configuration",
  process: 'a knob of the process that reads it (an actor, the CLI launcher), read before or without any Config',
  test: 'for tests and diagnostics only',
} as const;

type Reason = keyof typeof OTHER_ENV_REASONS;

export const OTHER_ENV: Readonly<Record<string, { reason: Reason; what: string }>> = Object.freeze({
  FLOTILLA_CONFIG: { reason: 'process', what: 'the YAML/JSON config file itself (what Config is read from)' },
  FLOTILLA_RUN: {
    reason: 'process',
    what: 'bin/flotilla.mjs: ts runs the TypeScript sources, js insists on dist/ (read before anything loads)',
  },
  FLOTILLA_ACTOR_SPEC: { reason: 'handoff', what: 'the agent hands a cold actor its ActorSpec (JSON)' },
  FLOTILLA_ACTOR_WARM: { reason: 'handoff', what: 'marks an actor started warm (its spec and creds come over IPC)' },
  FLOTILLA_WARM_STEP: { reason: 'handoff', what: "1: warm YOLOv5 actors take a throw-away step (the agent's environment, inherited)" },
  FLOTILLA_NATIVE_SHARE: { reason: 'handoff', what: 'the agent tells its actors how many share the cores (default: its slots)' },
  FLOTILLA_NATIVE_THREADS: {
    reason: 'process',
    what: 'threads of the native kernels in an actor (default: the cores over FLOTILLA_NATIVE_SHARE)',
  },
  FLOTILLA_URL: { reason: 'client', what: 'the head URL of the client commands (--server)' },
  FLOTILLA_TOKEN: { reason: 'client', what: 'the REST token of the client commands (--token)' },
  FLOTILLA_CREDENTIALS: { reason: 'client', what: 'the CLI credentials file (default ~/.flotilla/credentials)' },
  FLOTILLA_PROGRESS: { reason: 'client', what: '0: plain lines instead of a progress bar on a terminal' },
  FLOTILLA_LOG_LEVEL: { reason: 'process', what: 'pino level of every process (default info); actors and agents log before any Config' },
  FLOTILLA_NATS_PING_MS: { reason: 'process', what: 'NATS ping interval of every client of this process (default 500; slow links)' },
  FLOTILLA_BACKEND: { reason: 'process', what: 'forces an engine backend (cpu, cuda, …) in the process that trains' },
  FLOTILLA_BLAS_CORE: { reason: 'process', what: 'OpenBLAS core type of the native kernels (env keeps OPENBLAS_CORETYPE)' },
  FLOTILLA_NATIVE_ADDON: { reason: 'process', what: "path of the native kernels' addon (default build/Release)" },
  FLOTILLA_CUDA_ADDON: { reason: 'process', what: 'path of the CUDA addon (default build/)' },
  FLOTILLA_CUBLAS: { reason: 'process', what: 'path of libcublas (found in a pip nvidia-cublas install when unset)' },
  FLOTILLA_FLAT_JS: { reason: 'process', what: '1: the JavaScript loops instead of the native ones' },
  FLOTILLA_POOL: { reason: 'process', what: '0: no tensor memory pool in the cpu backend' },
  FLOTILLA_POOL_MB: { reason: 'process', what: "the tensor memory pool's bound (default a share of memory, at most 4 GiB)" },
  FLOTILLA_DATASET_CACHE: { reason: 'process', what: 'where an actor keeps fetched datasets (default ~/.cache/flotilla/datasets)' },
  FLOTILLA_NODE_CACHE: { reason: 'process', what: "the node's checkpoint cache (default ~/.cache/flotilla)" },
  FLOTILLA_NODE_CACHE_MB: { reason: 'process', what: "the node's checkpoint cache bound in MiB" },
  FLOTILLA_POOL_POISON: { reason: 'test', what: '1: recycled buffers are filled with NaN (finds kernels that leave output unwritten)' },
  FLOTILLA_CUDA_REPORT: { reason: 'test', what: '1: print the CUDA backend kernel and transfer counts at exit' },
  FLOTILLA_NVIDIA_SMI: { reason: 'test', what: 'the nvidia-smi binary (tests point it at a fake one)' },
});

/** A FLOTILLA_* name read in source text: `env.X`, `env['X']`, or a quoted 'X' (a constant a read uses). */
export const ENV_READ = /(?:env(?:\.|\[['"])|['"`])(FLOTILLA_[A-Z0-9_]*[A-Z0-9])\b/g;
