/**
 * `flotilla worker [--nats URL] [--slots N] [--node-id ID] [--prefix P]`: runs a node agent in
 * this process until SIGTERM/SIGINT (then it drains and exits 0). Flags override env/config.
 */
import { parseArgs } from 'node:util';
import type { ConfigInput } from '../../shared/config.ts';
import { applyJsDomainFlag } from '../../shared/js-domain.ts';

const USAGE = `usage: flotilla worker [--nats URL] [--join-token T | --join-token-file F | --creds FILE] [--nats-ca FILE] [--js-domain D] [--slots N] [--gpus N|all|none] [--warm-actors N] [--node-id ID] [--prefix P]

  --nats URL      NATS server URL(s), comma separated (env FLOTILLA_NATS_URL)
  --join-token T  join token from \`flotilla token create --role worker\` (env FLOTILLA_JOIN_TOKEN); it names the node
  --join-token-file F  read the join token from file F, waiting until it appears (env FLOTILLA_JOIN_TOKEN_FILE;
                  the file a head started with --join-token-file writes)
  --creds FILE    the node's NATS creds file instead of a join token (env FLOTILLA_NATS_CREDS)
  --nats-ca FILE  CA of the NATS servers' TLS certificates (env FLOTILLA_NATS_CA); TLS is then required
  --js-domain D   JetStream domain of the servers (env FLOTILLA_JS_DOMAIN, default flotilla; none = no domain)
  --slots N       actor processes this node runs at once (env FLOTILLA_SLOTS, default 1)
  --gpus N|all|none  GPUs offered to jobs (env FLOTILLA_GPUS, default all): every one nvidia-smi finds, the first N, or none
                  (none also hides every GPU from this node's actors)
  --gpu-inventory SPEC  FOR TESTS: declare fake GPUs instead of asking nvidia-smi (env FLOTILLA_GPU_INVENTORY),
                  e.g. '2xFake H100:81920' ([Nx]MODEL[:MEMORY_MIB], comma separated); nothing runs on them
  --warm-actors N actor processes kept started and loaded for the next placements (env FLOTILLA_WARM_ACTORS, default 1, 0 = off)
  --node-id ID    node id (env FLOTILLA_NODE_ID, default <host>-<random>)
  --prefix P      subject/bucket prefix (env FLOTILLA_PREFIX, default flotilla)`;

export async function run(argv: string[]): Promise<number> {
  let values: {
    nats?: string;
    slots?: string;
    gpus?: string;
    'gpu-inventory'?: string;
    'warm-actors'?: string;
    'node-id'?: string;
    prefix?: string;
    'join-token'?: string;
    'join-token-file'?: string;
    creds?: string;
    'nats-ca'?: string;
    'js-domain'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nats: { type: 'string' },
        slots: { type: 'string' },
        gpus: { type: 'string' },
        'gpu-inventory': { type: 'string' },
        'warm-actors': { type: 'string' },
        'node-id': { type: 'string' },
        prefix: { type: 'string' },
        'join-token': { type: 'string' },
        'join-token-file': { type: 'string' },
        creds: { type: 'string' },
        'nats-ca': { type: 'string' },
        'js-domain': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // read by every NATS connection of the agent and of the actors it forks (shared/nats-connect.ts)
  if (values['nats-ca']) process.env.FLOTILLA_NATS_CA = values['nats-ca'];
  try {
    applyJsDomainFlag(values['js-domain']);
  } catch (e) {
    console.error(`flotilla worker: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const overrides: ConfigInput = {};
  if (values.nats) overrides.natsUrl = values.nats;
  if (values.prefix) overrides.prefix = values.prefix;
  if (values['join-token']) overrides.joinToken = values['join-token'];
  if (values['join-token-file']) overrides.joinTokenFile = values['join-token-file'];
  if (values.creds) overrides.natsCreds = values.creds;
  let gpus: 'all' | 'none' | number | undefined;
  if (values.gpus !== undefined) {
    gpus = values.gpus === 'all' || values.gpus === 'none' ? values.gpus : /^\d+$/.test(values.gpus) ? Number(values.gpus) : undefined;
    if (gpus === undefined) {
      console.error(`flotilla worker: --gpus must be a number, all or none, got '${values.gpus}'\n\n${USAGE}`);
      return 2;
    }
  }
  if (
    values.slots !== undefined ||
    values['node-id'] !== undefined ||
    values['warm-actors'] !== undefined ||
    gpus !== undefined ||
    values['gpu-inventory'] !== undefined
  ) {
    overrides.worker = {
      ...(gpus !== undefined ? { gpus } : {}),
      ...(values['gpu-inventory'] !== undefined ? { gpuInventory: values['gpu-inventory'] } : {}),
      ...(values.slots !== undefined ? { slots: Number(values.slots) } : {}),
      ...(values['warm-actors'] !== undefined ? { warmActors: Number(values['warm-actors']) } : {}),
      ...(values['node-id'] !== undefined ? { nodeId: values['node-id'] } : {}),
    };
  }
  const { startAgent } = await import('../../worker/agent/index.ts');
  const started = await startAgent(overrides);
  return started.done;
}
