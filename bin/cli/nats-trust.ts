/**
 * `flotilla nats-trust --out DIR`: creates (or keeps) the NATS trust chain of a cluster for the
 * shipped deploy/nats configs: `auth.conf` (include it next to the server config), `head.creds`
 * and `signing.nk` (for `flotilla head --nats-creds … --signing-key …`), `revoker.json` (for
 * `--nats-revoker`: revoked worker tokens are cut off the servers),
 * `leaf-sys.creds`, `leaf-account.conf`, `leaf-sys-account.conf` (for leaf servers' remotes). All files 0600; `signing.nk` and `revoker.json` are the cluster's secrets. Each leaf host's own
 * `leaf.creds` comes from `flotilla leaf-creds`.
 */
import { z } from 'zod';
import { ensureLeafFiles, ensureTrustDir } from '../../head/auth/nats-trust.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'nats-trust',
  synopsis: '--out DIR [--name NAME]',
  flags: z.object({
    out: z.string().min(1).meta({
      arg: 'DIR',
      description:
        "where to write auth.conf, head.creds, signing.nk, revoker.json, leaf-sys.creds, leaf-account.conf, leaf-sys-account.conf (kept if already there;\neach leaf host's leaf.creds: flotilla leaf-creds)",
    }),
    name: flag.str('NAME', 'operator/account name (default flotilla)'),
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
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
