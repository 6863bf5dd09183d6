/**
 * `flotilla nats-trust --out DIR`: creates (or keeps) the NATS trust chain of a cluster for the
 * shipped deploy/nats configs: `auth.conf` (include it next to the server config), `head.creds`
 * and `signing.nk` (for `flotilla head --nats-creds … --signing-key …`), `revoker.json` (for
 * `--nats-revoker`: revoked worker tokens are cut off the servers),
 * `leaf-sys.creds`, `leaf-account.conf`, `leaf-sys-account.conf` (for leaf servers' remotes). All files 0600; `signing.nk` and `revoker.json` are the cluster's secrets. Each leaf host's own
 * `leaf.creds` comes from `flotilla leaf-creds`.
 */
import { parseArgs } from 'node:util';
import { ensureLeafFiles, ensureTrustDir } from '../../head/auth/nats-trust.ts';

const USAGE = `usage: flotilla nats-trust --out DIR [--name NAME]

  --out DIR     where to write auth.conf, head.creds, signing.nk, revoker.json, leaf-sys.creds, leaf-account.conf, leaf-sys-account.conf (kept if already there;
                each leaf host's leaf.creds: flotilla leaf-creds)
  --name NAME   operator/account name (default flotilla)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`flotilla nats-trust: --out is required\n\n${USAGE}`);
    return 2;
  }
  const trust = await ensureTrustDir(values.out, values.name ?? 'flotilla');
  const { missing } = await ensureLeafFiles(values.out, trust);
  console.log(
    `flotilla nats-trust: ${values.out} (auth.conf, head.creds, signing.nk, revoker.json, leaf-sys.creds, leaf-account.conf, leaf-sys-account.conf; leaf hosts: flotilla leaf-creds --trust ${values.out} --node N --out leaf.creds)`,
  );
  if (missing.length)
    console.error(
      `flotilla nats-trust: ${values.out} was made before ${missing.join(', ')} existed (the leaf servers' system-account user can only be made with a new trust chain): leaf servers need a new --out dir`,
    );
  return 0;
}
