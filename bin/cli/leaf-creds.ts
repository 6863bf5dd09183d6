/**
 * `flotilla leaf-creds --trust DIR --node N [--node N]... --out FILE [--prefix P]`: the
 * `leaf.creds` of one worker host's leaf server (deploy/nats/leaf/host-leaf.conf reads
 * /etc/flotilla/nats/leaf.creds), a user of the cluster's account bound to the cluster's prefix
 * and to the node ids that host's agents use (head/auth/nats-permissions.ts leafPermissions):
 * nobody holding it can speak for, or read the control requests of, another host's nodes.
 * Written 0600; signed with the trust dir's signing key (DIR of `flotilla nats-trust`).
 */
import { parseArgs } from 'node:util';
import { chmodSync, writeFileSync } from 'node:fs';
import { loadTrustDir, mintLeafCreds } from '../../head/auth/nats-trust.ts';
import { subjects, DEFAULT_PREFIX } from '../../shared/subjects.ts';

const USAGE = `usage: flotilla leaf-creds --trust DIR --node N [--node N]... --out FILE [--prefix P]

  --trust DIR   the trust dir of \`flotilla nats-trust\` (its signing key signs the creds)
  --node N      a node id the host's worker agents use (FLOTILLA_NODE_ID / --node-id), repeatable
  --out FILE    where to write the creds (copy to the host's /etc/flotilla/nats/leaf.creds)
  --prefix P    the cluster's subject prefix (env FLOTILLA_PREFIX, default ${DEFAULT_PREFIX})`;

export async function run(argv: string[]): Promise<number> {
  let values: { trust?: string; node?: string[]; out?: string; prefix?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        trust: { type: 'string' },
        node: { type: 'string', multiple: true },
        out: { type: 'string' },
        prefix: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`flotilla leaf-creds: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const missing = (['trust', 'node', 'out'] as const).filter((k) => !values[k]?.length);
  if (missing.length) {
    console.error(`flotilla leaf-creds: ${missing.map((k) => `--${k}`).join(', ')} required\n\n${USAGE}`);
    return 2;
  }
  let creds: string;
  try {
    creds = await mintLeafCreds(
      loadTrustDir(values.trust!),
      subjects(values.prefix ?? process.env.FLOTILLA_PREFIX ?? DEFAULT_PREFIX),
      values.node!,
    );
  } catch (e) {
    console.error(`flotilla leaf-creds: ${(e as Error).message}`);
    return 2;
  }
  writeFileSync(values.out!, creds, { mode: 0o600 });
  chmodSync(values.out!, 0o600);
  console.log(
    `flotilla leaf-creds: ${values.out} (a leaf user for node(s) ${values.node!.join(', ')}, prefix ${values.prefix ?? process.env.FLOTILLA_PREFIX ?? DEFAULT_PREFIX})`,
  );
  return 0;
}
