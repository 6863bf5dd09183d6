/**
 * `flotilla dataset push DIR [--name N]`: packs a YOLO dataset folder (yaml, images, labels)
 * and stores it in the cluster's Object Store, so a job can say `data: dataset://N`; every
 * worker fetches it once into a cache keyed by its SHA-256. `flotilla dataset list` shows them.
 */
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { natsFlags, natsOverrides } from './nats-flags.ts';
import { printError } from './fail.ts';
import { defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'dataset',
  synopsis: ['push DIR [--name N] [--nats URL] [--prefix P]', 'list [--nats URL] [--prefix P]'],
  intro: "  DIR: a dataset folder with data.yaml (or one .yaml) at its top; its 'path' must stay inside",
  flags: z.object({
    name: flag.str('N', "dataset name (default: the folder's name); jobs use data: dataset://N"),
    nats: natsFlags.nats,
    prefix: flag.str('P', 'cluster prefix (env FLOTILLA_PREFIX, default flotilla)'),
    creds: flag.str(
      'FILE',
      "NATS credentials with write access to the dataset store, e.g. the head's\n(env FLOTILLA_NATS_CREDS; none on a server without auth)",
    ),
    'nats-ca': natsFlags['nats-ca'],
    'js-domain': natsFlags['js-domain'],
  }),
  args: z.union([z.tuple([z.literal('push'), z.string().min(1)]), z.tuple([z.literal('list')])], {
    error: 'expected push DIR or list',
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const [sub, dir] = p.args;
  const { loadConfig } = await import('../../shared/config.ts');
  const { useNatsSettings } = await import('../../shared/nats-settings.ts');
  const cfg = loadConfig({ overrides: { ...natsOverrides(values), ...(values.creds ? { natsCreds: values.creds } : {}) } });
  useNatsSettings(cfg);
  const servers = cfg.natsUrl.split(',');
  const prefix = cfg.prefix;
  const creds = cfg.natsCreds;
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
    return printError('dataset', e);
  } finally {
    await nc.close();
  }
}
