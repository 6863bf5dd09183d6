/**
 * `flotilla leaf-creds --trust DIR --node N [--node N]... --out FILE [--prefix P]`: the
 * `leaf.creds` of one worker host's leaf server (deploy/nats/leaf/host-leaf.conf reads
 * /etc/flotilla/nats/leaf.creds), a user of the cluster's account bound to the cluster's prefix
 * and to the node ids that host's agents use (head/auth/nats-permissions.ts leafPermissions):
 * nobody holding it can speak for, or read the control requests of, another host's nodes.
 * Written 0600; signed with the trust dir's signing key (DIR of `flotilla nats-trust`).
 */
import { z } from 'zod';
import { chmodSync, writeFileSync } from 'node:fs';
import { loadTrustDir, mintLeafCreds } from '../../head/auth/nats-trust.ts';
import { subjects, DEFAULT_PREFIX } from '../../shared/subjects.ts';
import { loadConfig } from '../../shared/config.ts';
import { defineCommand, flag, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'leaf-creds',
  synopsis: '--trust DIR --node N [--node N]... --out FILE [--prefix P]',
  flags: z.object({
    trust: z.string().min(1).meta({ arg: 'DIR', description: 'the trust dir of `flotilla nats-trust` (its signing key signs the creds)' }),
    node: z
      .array(z.string().min(1))
      .min(1)
      .meta({ arg: 'N', description: "a node id the host's worker agents use (FLOTILLA_NODE_ID / --node-id)" }),
    out: z
      .string()
      .min(1)
      .meta({ arg: 'FILE', description: "where to write the creds (copy to the host's /etc/flotilla/nats/leaf.creds)" }),
    prefix: flag.str('P', `the cluster's subject prefix (env FLOTILLA_PREFIX, default ${DEFAULT_PREFIX})`),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const prefix = values.prefix ?? loadConfig().prefix;
  let creds: string;
  try {
    creds = await mintLeafCreds(loadTrustDir(values.trust), subjects(prefix), values.node);
  } catch (e) {
    return usageError(spec, (e as Error).message);
  }
  writeFileSync(values.out, creds, { mode: 0o600 });
  chmodSync(values.out, 0o600);
  console.log(`flotilla leaf-creds: ${values.out} (a leaf user for node(s) ${values.node.join(', ')}, prefix ${prefix})`);
  return 0;
}
