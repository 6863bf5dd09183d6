/**
 * npm run bench:sync — the sync modes (docs/sync.md) over a shaped link, in one run.
 *
 * A nats-server and --ranks (2) trainer ranks, each on its own network-namespace host
 * (test/kit/netns.ts), every rank's link limited with `tc tbf` to each --links rate (1000 and
 * 100 Mbit/s). Each rank trains YOLOv5n on the synthetic set (--img 64, --train 64 images, --epochs 1,
 * total --batch 8, nbs 8: an optimizer step per batch) with the engine's loop and one sync mode:
 *   allreduce, allreduce+int8, local-sgd, diloco, diloco+int8, streaming  (H = --every 4;
 *   streaming: 2 fragments, overlap 1)
 * Figures per run: bytes each rank sent per optimizer step (measured on the rank's veth, so
 * protocol and setup included, averaged over the ranks), wall time of the training loop, and
 * mAP@0.5 after the fixed sample budget (--epochs × --train images). One run; --json FILE writes rows.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, netnsUnavailable, type Host } from '../test/kit/netns.ts';
import { ALLREDUCE_SYNC, type SyncSettings } from '../worker/engine/sync/index.ts';
import { synthesize } from '../worker/engine/train/index.ts';
import { flag, numFlag } from './args.ts';

const argv = process.argv.slice(2);
const RANKS = numFlag(argv, 'ranks', 2),
  IMG = numFlag(argv, 'img', 64),
  TRAIN = numFlag(argv, 'train', 64),
  EPOCHS = numFlag(argv, 'epochs', 1);
const BATCH = numFlag(argv, 'batch', 8),
  EVERY = numFlag(argv, 'every', 4);
const LINKS = (flag(argv, 'links') || '1000,100').split(',').map(Number);
const jsonFile = flag(argv, 'json');
const only = flag(argv, 'modes')?.split(',');

const MODES: Array<[string, Partial<SyncSettings>]> = [
  ['allreduce', {}],
  ['allreduce+int8', { compress: 'int8' }],
  ['local-sgd', { mode: 'local-sgd' }],
  ['diloco', { mode: 'diloco' }],
  ['diloco+int8', { mode: 'diloco', compress: 'int8' }],
  ['streaming', { mode: 'streaming', fragments: 2, overlap: 1 }],
];

const why = netnsUnavailable();
if (why) {
  console.error(`bench:sync needs network namespaces: ${why}`);
  process.exit(2);
}

function rxBytes(h: Host): number {
  // the bridge-side veth receives what the rank's host sends
  const out = spawnSync('ip', ['-s', '-j', 'link', 'show', 'dev', h.brVeth], { encoding: 'utf8' }).stdout;
  return Number((JSON.parse(out) as Array<{ stats64: { rx: { bytes: number } } }>)[0].stats64.rx.bytes);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-sync-'));
const data = await synthesize({ train: TRAIN, val: 16, img: IMG, seed: 0 }, join(dir, 'synthetic'));
const lab = new Lab();
const rows: Array<Record<string, string | number>> = [];
let cleaning: Promise<void> | undefined;
// once, whoever asks first (SIGINT or the end of the run) — and both wait for it
const cleanup = () => (cleaning ??= lab.teardown().then(() => rmSync(dir, { recursive: true, force: true })));
process.once('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});
try {
  const natsHost = lab.addHost('nats');
  const ranks = Array.from({ length: RANKS }, (_, r) => lab.addHost(`r${r}`));
  natsHost.spawn('nats-server', ['-a', natsHost.ip, '-p', '4222'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const url = `nats://${natsHost.ip}:4222`;
  console.log(
    `bench:sync — ${RANKS} ranks, YOLOv5n img ${IMG}, ${TRAIN} images × ${EPOCHS} epochs, batch ${BATCH}, H=${EVERY}; load ${loadavg()[0].toFixed(1)}`,
  );
  for (const mbit of LINKS) {
    for (const h of ranks) lab.limit(h.label, mbit);
    for (const [name, over] of MODES) {
      if (only && !only.includes(name)) continue;
      const sync: SyncSettings = { ...ALLREDUCE_SYNC, every: EVERY, ...over };
      const before = ranks.map(rxBytes);
      const base = `bench.${name.replace(/[^a-z0-9]/g, '')}.${mbit}`;
      const outs = await Promise.all(
        ranks.map(
          (h, rank) =>
            new Promise<string>((resolve, reject) => {
              const p = h.spawn(process.execPath, ['--import', 'tsx', 'bench/sync-rank.ts'], {
                stdio: ['ignore', 'pipe', 'inherit'],
                env: {
                  ...process.env,
                  FLOTILLA_BENCH_RANK: JSON.stringify({
                    url,
                    base,
                    rank,
                    world: RANKS,
                    data,
                    img: IMG,
                    batch: BATCH,
                    epochs: EPOCHS,
                    nbs: BATCH,
                    sync,
                  }),
                },
              });
              let out = '';
              p.stdout?.on('data', (b: Buffer) => {
                out += b.toString();
              });
              p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} of ${name} exited ${code}`))));
            }),
        ),
      );
      const r0 = JSON.parse(outs[0].trim().split('\n').pop()!) as { wallS: number; steps: number; map50: number; payloadBytes: number };
      const sent = ranks.map((h, i) => rxBytes(h) - before[i]);
      const perStep = sent.reduce((s, x) => s + x, 0) / RANKS / r0.steps;
      const row = {
        link_mbit: mbit,
        mode: name,
        bytes_per_rank_step: Math.round(perStep),
        payload_per_step: Math.round(r0.payloadBytes / r0.steps),
        wall_s: Number(r0.wallS.toFixed(1)),
        steps: r0.steps,
        map50: Number(r0.map50.toFixed(4)),
        load: Number(loadavg()[0].toFixed(1)),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  console.log(
    '\n| link | mode | bytes sent / rank / step | payload / step | wall s | steps | mAP@0.5 | load |\n| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows)
    console.log(
      `| ${r.link_mbit} Mbit/s | ${r.mode} | ${(Number(r.bytes_per_rank_step) / 1e6).toFixed(3)} MB | ${(Number(r.payload_per_step) / 1e6).toFixed(3)} MB | ${r.wall_s} | ${r.steps} | ${r.map50} | ${r.load} |`,
    );
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(rows, null, 2));
} finally {
  await cleanup();
}
