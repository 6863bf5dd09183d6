/**
 * Configuration: defaults <- optional JSON/YAML file (FLOTILLA_CONFIG or --config) <- env
 * (FLOTILLA_*). Parsed once, every bad field listed in one error, then frozen.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { FlotillaError } from './errors.ts';

export const DEFAULTS = Object.freeze({
  natsUrl: 'nats://127.0.0.1:4222',
  prefix: 'flotilla',
  headHost: '127.0.0.1',
  headPort: 8080,
  heartbeatMs: 1000,
  deadAfterMs: 3000,
  restartBackoffMs: 500,
  workerSlots: 1,
  warmActors: 1,
  idleTimeoutMs: 60_000,
  jsDomain: 'flotilla',
});

export const Config = z
  .object({
    /** NATS server URL(s), comma separated (default nats://127.0.0.1:4222) */
    natsUrl: z.string().min(1).default(DEFAULTS.natsUrl),
    /** NATS credentials of this process: a creds file path or its text (none: an anonymous client, for servers without auth) */
    natsCreds: z.string().min(1).optional(),
    /** head only: the account signing key (nkey seed, or a file holding it) it mints worker and actor credentials with */
    natsSigningKey: z.string().min(1).optional(),
    /** head only: revoker.json of `flotilla nats-trust` (path or text): revoked worker tokens are then cut off on the servers */
    natsRevoker: z.string().min(1).optional(),
    /** CA file of the NATS servers' TLS certificates (`ca.pem` of `flotilla certs`); TLS is then required. The processes this one starts get it too */
    natsCa: z.string().min(1).optional(),
    /** JetStream domain of the servers (default flotilla; none: the plain $JS.API of a server without a domain). Every process of a cluster uses the same */
    jsDomain: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "use 1-64 of [A-Za-z0-9_-], or 'none'" })
      .default(DEFAULTS.jsDomain),
    /** roots a job's trainer.data / trainer.cfg paths must lie under (default ./datasets, ./models) */
    paths: z
      .object({ datasets: z.string().min(1).default('datasets'), models: z.string().min(1).default('models') })
      .strict()
      .default({ datasets: 'datasets', models: 'models' }),
    /** worker only: a join token from `flotilla token create --role worker` (carries the node's credentials and id) */
    joinToken: z.string().min(1).optional(),
    /**
     * a file holding a pool join token (FLOTILLA_JOIN_TOKEN_FILE): the head writes one there when it
     * holds none that is valid; a worker without --join-token reads its token from it, waiting for it
     * to appear (a Compose volume shared by the head and the workers, like k3s's node-token)
     */
    joinTokenFile: z.string().min(1).optional(),
    /** subject/bucket prefix (default "flotilla") */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .default(DEFAULTS.prefix),
    head: z
      .object({
        host: z.string().default(DEFAULTS.headHost),
        port: z.number().int().min(0).max(65535).default(DEFAULTS.headPort),
        /** a node is dead after this much heartbeat silence (default 3000) */
        deadAfterMs: z.number().int().positive().default(DEFAULTS.deadAfterMs),
        /** first restart backoff, doubled per restart (default 500) */
        restartBackoffMs: z.number().int().nonnegative().default(DEFAULTS.restartBackoffMs),
        /** REST over HTTPS: the certificate file (with tlsKey) */
        tlsCert: z.string().min(1).optional(),
        /** REST over HTTPS: the key file (with tlsCert) */
        tlsKey: z.string().min(1).optional(),
        /** REST without authentication (FLOTILLA_INSECURE=1; a warning is printed) */
        insecure: z.boolean().default(false),
      })
      .strict()
      .default({
        host: DEFAULTS.headHost,
        port: DEFAULTS.headPort,
        deadAfterMs: DEFAULTS.deadAfterMs,
        restartBackoffMs: DEFAULTS.restartBackoffMs,
        insecure: false,
      }),
    worker: z
      .object({
        nodeId: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/)
          .optional(),
        slots: z.number().int().positive().default(DEFAULTS.workerSlots),
        heartbeatMs: z.number().int().positive().default(DEFAULTS.heartbeatMs),
        /** actor processes kept started and loaded for placements (default 1; 0 disables the pool) */
        warmActors: z.number().int().min(0).max(64).default(DEFAULTS.warmActors),
        /** GPUs offered to placements: every one nvidia-smi finds, none, or the first N (default all) */
        gpus: z.union([z.enum(['all', 'none']), z.number().int().min(0).max(64)]).default('all'),
        /** a declared (fake) GPU inventory instead of nvidia-smi, for tests: `[Nx]MODEL[:MEMORY_MIB],...` */
        gpuInventory: z.string().min(1).optional(),
      })
      .strict()
      .default({ slots: DEFAULTS.workerSlots, heartbeatMs: DEFAULTS.heartbeatMs, warmActors: DEFAULTS.warmActors, gpus: 'all' }),
    jetstream: z
      .object({
        /** replicas of every KV bucket, stream and object store (default min(3, servers in the cluster)) */
        replicas: z.number().int().min(1).max(5).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

const ENV_MAP: Record<string, (c: Record<string, any>, v: string) => void> = {
  FLOTILLA_NATS_URL: (c, v) => {
    c.natsUrl = v;
  },
  FLOTILLA_PREFIX: (c, v) => {
    c.prefix = v;
  },
  FLOTILLA_NATS_CREDS: (c, v) => {
    c.natsCreds = v;
  },
  FLOTILLA_NATS_SIGNING_KEY: (c, v) => {
    c.natsSigningKey = v;
  },
  FLOTILLA_NATS_REVOKER: (c, v) => {
    c.natsRevoker = v;
  },
  FLOTILLA_JOIN_TOKEN: (c, v) => {
    c.joinToken = v;
  },
  FLOTILLA_JOIN_TOKEN_FILE: (c, v) => {
    c.joinTokenFile = v;
  },
  FLOTILLA_NATS_CA: (c, v) => {
    c.natsCa = v;
  },
  FLOTILLA_JS_DOMAIN: (c, v) => {
    c.jsDomain = v.trim() || 'none';
  },
  FLOTILLA_TLS_CERT: (c, v) => {
    (c.head ??= {}).tlsCert = v;
  },
  FLOTILLA_TLS_KEY: (c, v) => {
    (c.head ??= {}).tlsKey = v;
  },
  FLOTILLA_INSECURE: (c, v) => {
    (c.head ??= {}).insecure = v === '1';
  },
  FLOTILLA_HEAD_HOST: (c, v) => {
    (c.head ??= {}).host = v;
  },
  FLOTILLA_HEAD_PORT: (c, v) => {
    (c.head ??= {}).port = Number(v);
  },
  FLOTILLA_DEAD_AFTER_MS: (c, v) => {
    (c.head ??= {}).deadAfterMs = Number(v);
  },
  FLOTILLA_NODE_ID: (c, v) => {
    (c.worker ??= {}).nodeId = v;
  },
  FLOTILLA_SLOTS: (c, v) => {
    (c.worker ??= {}).slots = Number(v);
  },
  FLOTILLA_WARM_ACTORS: (c, v) => {
    (c.worker ??= {}).warmActors = Number(v);
  },
  FLOTILLA_GPUS: (c, v) => {
    (c.worker ??= {}).gpus = v === 'all' || v === 'none' ? v : Number(v);
  },
  FLOTILLA_GPU_INVENTORY: (c, v) => {
    (c.worker ??= {}).gpuInventory = v;
  },
  FLOTILLA_JS_REPLICAS: (c, v) => {
    (c.jetstream ??= {}).replicas = Number(v);
  },
};
/** The environment variables the config reads (deploy/ env files are checked against them). */
export const CONFIG_ENV_NAMES: readonly string[] = Object.freeze(Object.keys(ENV_MAP));

function deepMerge(a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k], v) : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Parses config once: defaults, then file, then env, then explicit overrides. Frozen. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: ConfigInput } = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  let fromFile: Record<string, any> = {};
  const file = opts.file ?? env.FLOTILLA_CONFIG;
  if (file) {
    try {
      fromFile = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (e) {
      throw new FlotillaError('FLO_CONFIG', `cannot read config file ${file}: ${(e as Error).message}`);
    }
  }
  const fromEnv: Record<string, any> = {};
  for (const [k, set] of Object.entries(ENV_MAP)) if (env[k] !== undefined && env[k] !== '') set(fromEnv, env[k] as string);
  // an empty FLOTILLA_JS_DOMAIN is a choice: no domain
  if (env.FLOTILLA_JS_DOMAIN !== undefined && env.FLOTILLA_JS_DOMAIN.trim() === '') fromEnv.jsDomain = 'none';
  const merged = deepMerge(deepMerge(fromFile, fromEnv), (opts.overrides ?? {}) as Record<string, any>);
  const r = Config.safeParse(merged);
  if (!r.success) {
    const fields = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FlotillaError('FLO_CONFIG', `invalid configuration: ${fields.join('; ')}`, { details: fields });
  }
  return deepFreeze(r.data);
}
