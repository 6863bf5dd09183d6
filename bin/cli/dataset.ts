/**
 * `flotilla dataset push DIR [--name N]`: packs a YOLO dataset folder (yaml, images, labels)
 * and stores it in the cluster's Object Store, so a job can say `data: dataset://N`; every
 * worker fetches it once into a cache keyed by its SHA-256. `flotilla dataset list` shows them.
 */
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `usage: flotilla dataset push DIR [--name N] [--nats URL] [--prefix P]
       flotilla dataset list [--nats URL] [--prefix P]

  DIR            a dataset folder with data.yaml (or one .yaml) at its top; its 'path' must stay inside
  --name N       dataset name (default: the folder's name); jobs use data: dataset://N
  --nats URL     NATS server URL(s), comma-separated (env FLOTILLA_NATS_URL, default nats://127.0.0.1:4222)
  --prefix P     cluster prefix (env FLOTILLA_PREFIX, default flotilla)
  --creds FILE   NATS credentials with write access to the dataset store, e.g. the head's
                 (env FLOTILLA_NATS_CREDS; none on a server without auth)
  --nats-ca FILE CA of the NATS servers' TLS certificates (env FLOTILLA_NATS_CA)
  --js-domain D  JetStream domain of the servers (env FLOTILLA_JS_DOMAIN, default flotilla; none = no domain)`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        nats: { type: 'string' },
        prefix: { type: 'string' },
        creds: { type: 'string' },
        'nats-ca': { type: 'string' },
        'js-domain': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values['nats-ca']) process.env.FLOTILLA_NATS_CA = values['nats-ca'];
  const { applyJsDomainFlag } = await import('../../shared/js-domain.ts');
  try {
    applyJsDomainFlag(values['js-domain']);
  } catch (e) {
    console.error(`flotilla dataset: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [sub, dir, ...rest] = positionals;
  if (!((sub === 'push' && dir && rest.length === 0) || (sub === 'list' && !dir))) {
    console.error(USAGE);
    return 2;
  }
  const servers = (values.nats ?? process.env.FLOTILLA_NATS_URL ?? 'nats://127.0.0.1:4222').split(',');
  const prefix = values.prefix ?? process.env.FLOTILLA_PREFIX ?? 'flotilla';
  const creds = values.creds ?? (process.env.FLOTILLA_NATS_CREDS || undefined);
  const { connect } = await import('@nats-io/transport-node');
  const { natsOptions } = await import('../../shared/nats-connect.ts');
  let nc;
  try {
    nc = await connect(natsOptions(servers, creds, { name: 'flotilla-dataset' }));
  } catch (e) {
    console.error(`cannot connect to NATS at ${servers.join(',')}: ${(e as Error).message}`);
    return 1;
  }
  try {
    if (sub === 'push') {
      const { pushDataset } = await import('../../worker/datasets/store.ts');
      const name = values.name ?? basename(resolve(dir!));
      const r = await pushDataset(nc, prefix, resolve(dir!), name);
      console.log(`pushed dataset://${r.name}: ${r.files} files, ${r.bytes} bytes, sha256 ${r.sha256} (yaml ${r.yaml})`);
    } else {
      const { listDatasets } = await import('../../worker/datasets/store.ts');
      for (const d of await listDatasets(nc, prefix))
        console.log(`dataset://${d.name}  ${d.bytes} bytes  ${d.files} files  sha256 ${d.sha256}`);
    }
    return 0;
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  } finally {
    await nc.close();
  }
}
