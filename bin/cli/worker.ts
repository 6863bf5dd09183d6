/**
 * `flotilla worker [--nats URL] [--slots N] [--node-id ID] [--prefix P]`: runs a node agent in
 * this process until SIGTERM/SIGINT (then it drains and exits 0). Flags override env/config.
 */
import { z } from 'zod';
import type { ConfigInput } from '../../shared/config.ts';
import { natsFlags, natsOverrides } from './nats-flags.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'worker',
  synopsis:
    '[--nats URL] [--join-token T | --join-token-file F | --creds FILE] [--nats-ca FILE] [--js-domain D] [--slots N] [--gpus N|all|none] [--warm-actors N] [--node-id ID] [--prefix P]',
  flags: z.object({
    nats: natsFlags.nats,
    'join-token': flag.str('T', 'join token from `flotilla token create --role worker` (env FLOTILLA_JOIN_TOKEN); it names the node'),
    'join-token-file': flag.str(
      'F',
      'read the join token from file F, waiting until it appears (env FLOTILLA_JOIN_TOKEN_FILE;\nthe file a head started with --join-token-file writes)',
    ),
    creds: flag.str('FILE', "the node's NATS creds file instead of a join token (env FLOTILLA_NATS_CREDS)"),
    'nats-ca': natsFlags['nats-ca'],
    'js-domain': natsFlags['js-domain'],
    slots: flag.int('N', 'actor processes this node runs at once (env FLOTILLA_SLOTS, default 1)', 1),
    gpus: z
      .union([z.enum(['all', 'none']), z.number().int().min(0).max(64)], { error: 'expected a number, all or none' })
      .optional()
      .meta({
        arg: 'N|all|none',
        description:
          "GPUs offered to jobs (env FLOTILLA_GPUS, default all): every one nvidia-smi finds, the first N, or none\n(none also hides every GPU from this node's actors)",
      }),
    'gpu-inventory': flag.str(
      'SPEC',
      "FOR TESTS: declare fake GPUs instead of asking nvidia-smi (env FLOTILLA_GPU_INVENTORY),\ne.g. '2xFake H100:81920' ([Nx]MODEL[:MEMORY_MIB], comma separated); nothing runs on them",
    ),
    'warm-actors': flag.int(
      'N',
      'actor processes kept started and loaded for the next placements (env FLOTILLA_WARM_ACTORS, default 1, 0 = off)',
      0,
      64,
    ),
    'node-id': flag.str('ID', 'node id (env FLOTILLA_NODE_ID, default <host>-<random>)'),
    prefix: natsFlags.prefix,
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const overrides: ConfigInput = natsOverrides(values);
  if (values['join-token']) overrides.joinToken = values['join-token'];
  if (values['join-token-file']) overrides.joinTokenFile = values['join-token-file'];
  if (values.creds) overrides.natsCreds = values.creds;
  const worker = {
    ...(values.gpus !== undefined ? { gpus: values.gpus } : {}),
    ...(values['gpu-inventory'] !== undefined ? { gpuInventory: values['gpu-inventory'] } : {}),
    ...(values.slots !== undefined ? { slots: values.slots } : {}),
    ...(values['warm-actors'] !== undefined ? { warmActors: values['warm-actors'] } : {}),
    ...(values['node-id'] !== undefined ? { nodeId: values['node-id'] } : {}),
  };
  if (Object.keys(worker).length) overrides.worker = worker;
  const { startAgent } = await import('../../worker/agent/index.ts');
  const started = await startAgent(overrides);
  return started.done;
}
