/**
 * POST /v1/detect on a real head and nats-server: a job's best.ckpt artifact (a flotilla
 * checkpoint in the job's object store) runs on an uploaded image in the head's detect thread and
 * gives the boxes `flotilla detect`'s predict() gives in-process; bad images, missing or wrong
 * weights, a too-large image and the roles are refused naming the field; the head itself never
 * loads tfjs.
 */
import t from 'tap';
import sharp from 'sharp';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { headFixture } from './helpers/head.ts';
import { subjects } from '../../shared/subjects.ts';
import { DetectRequest } from '../../shared/schemas/detect.ts';
import { DetectRunner, MAX_QUEUED } from '../../head/detect/runner.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { initBackend } from '../../worker/engine/backend.ts';
import { encodeCheckpoint, stored } from '../../worker/engine/checkpoint/index.ts';
import { decodeImage } from '../../worker/engine/data/index.ts';
import { predict } from '../../worker/engine/detect/index.ts';
import { modelFromPretrained, readPretrained } from '../../worker/engine/weights/index.ts';

// the backend the head's detect thread picks, so both sides compute alike
t.comment(`backend: ${(await initBackend()).backend}`);
const FIXTURE = fileURLToPath(new URL('../fixtures/pt/yolov5n-w0125.pt', import.meta.url));

const logreg = { kind: 'logreg', steps: 5 };

/** A deterministic textured PNG. */
async function png(w: number, h: number): Promise<Buffer> {
  const d = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      d[i] = (x * 7 + y * 3) & 255;
      d[i + 1] = (y * 5) & 255;
      d[i + 2] = ((x ^ y) * 2) & 255;
    }
  return sharp(d, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

t.test("POST /v1/detect runs a job's best.ckpt on an image, as flotilla detect does", async (t) => {
  const { head, nats, prefix } = await headFixture(t);
  const job = (await head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { trainer: logreg } })).json();
  const nc = await connect(nats.options());
  t.teardown(() => nc.close());
  const os = await new Objm(jetstream(nc)).create(subjects(prefix).jobStore(job.id, 'art'));
  // the PyTorch-written fixture's weights (real BatchNorm statistics, 80 classes) saved as a
  // flotilla checkpoint, as a finished job leaves best.ckpt (its cfg a yaml file on the head)
  const pre = readPretrained(FIXTURE);
  const model = modelFromPretrained(pre);
  t.teardown(() => model.dispose());
  const dir = mkdtempSync(join(tmpdir(), 'detect-route-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'model.yaml');
  writeFileSync(cfg, stringify(pre.cfg));
  const names = Array.from({ length: model.nc }, (_, i) => `c${i}`);
  const ckpt = encodeCheckpoint({
    tensors: new Map([...model.stateDict()].map(([k, v]) => [`ema/${k}`, stored(v)])),
    meta: { cfg, nc: model.nc, names },
  });
  await os.putBlob({ name: `${job.id}/best.ckpt` }, ckpt);
  await os.putBlob({ name: `${job.id}/junk.ckpt` }, new Uint8Array(1000).fill(7));
  const image = await png(200, 120);
  const post = (payload: object) => head.app.inject({ method: 'POST', url: '/v1/detect', payload });

  const r = await post({ job: job.id, image: image.toString('base64'), img: 64, conf_thres: 0.01, max_det: 1000 });
  t.equal(r.statusCode, 200, r.statusCode === 200 ? 'ok' : r.body);
  const body = r.json();
  t.equal(body.weights, 'best.ckpt');
  t.same([body.width, body.height], [200, 120]);
  t.same(body.input, [64, 64], 'letterboxed as detect.py (auto): 200 px to 64, 120 px to 38, padded up to the stride 32');
  const want = predict(model, await decodeImage(image), { img: 64, confThres: 0.01, maxDet: 1000 }).detections;
  t.ok(want.length > 0, `${want.length} detections in-process`);
  t.equal(body.detections.length, want.length, 'the same number of boxes');
  // each in-process box has its twin in the reply (same class; ties in confidence may order them apart)
  let worst = 0;
  for (const d of want) {
    const gap = Math.min(
      ...body.detections
        .filter((g: { cls: number }) => g.cls === d.cls)
        .map((g: { xyxy: number[]; conf: number }) =>
          Math.max(
            Math.abs(g.xyxy[0] - d.x1),
            Math.abs(g.xyxy[1] - d.y1),
            Math.abs(g.xyxy[2] - d.x2),
            Math.abs(g.xyxy[3] - d.y2),
            Math.abs(g.conf - d.conf),
          ),
        ),
    );
    worst = Math.max(worst, gap);
  }
  t.ok(worst < 1e-3, `boxes and confidences equal (max diff ${worst.toExponential(2)})`);
  t.ok(
    body.detections.every((d: { cls: number; name: string }) => d.name === names[d.cls]),
    'names from the checkpoint',
  );
  const cls = body.detections[0].cls;
  const again = await post({ job: job.id, image: image.toString('base64'), img: 64, conf_thres: 0.01, classes: [cls] });
  t.ok(
    again.json().detections.length > 0 && again.json().detections.every((d: { cls: number }) => d.cls === cls),
    'classes filters (the thread keeps the loaded model)',
  );

  const refused: Array<[string, object, number, string]> = [
    ['unknown job', { job: 'nosuch', image: image.toString('base64') }, 404, 'nosuch'],
    ['no such artifact', { job: job.id, weights: 'last.ckpt', image: image.toString('base64') }, 404, 'last.ckpt'],
    ['a path as weights', { job: job.id, weights: '../x.ckpt', image: image.toString('base64') }, 400, 'body.weights'],
    ['not base64', { job: job.id, image: 'not base64!' }, 400, 'body.image'],
    ['not an image', { job: job.id, image: Buffer.from('hello world').toString('base64') }, 400, 'body.image'],
    ['not weights', { job: job.id, weights: 'junk.ckpt', image: image.toString('base64') }, 400, 'body.weights'],
    ['img out of range', { job: job.id, image: image.toString('base64'), img: 4096 }, 400, 'body.img'],
    ['an unknown key', { job: job.id, image: image.toString('base64'), colour: 'red' }, 400, 'colour'],
  ];
  for (const [what, payload, status, field] of refused) {
    const x = await post(payload);
    t.equal(x.statusCode, status, `${what}: ${status}`);
    t.match(x.json().error.message, field, `${what}: names ${field}`);
  }
  const huge = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const big = await post({ job: job.id, image: huge.toString('base64') });
  t.equal(big.statusCode, 400, `a 48 MP image (${huge.length} bytes encoded) is refused before decoding`);
  t.match(big.json().error.message, /body\.image: .*8000×6000 is more than 40000000 pixels/);
  const over = await head.app.inject({
    method: 'POST',
    url: '/v1/detect',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ job: job.id, image: 'A'.repeat(12 << 20) }),
  });
  t.equal(over.statusCode, 413, 'a body over the route limit is refused');
});

t.test('the detect thread: a request over its time ends the thread (504), the next starts a fresh one; a full line is a 503', async (t) => {
  const weights = new Uint8Array(readFileSync(FIXTURE));
  const task = {
    label: 'fixture',
    weights,
    image: await png(64, 48),
    img: 64,
    confThres: 0.01,
    iouThres: 0.45,
    maxDet: 10,
    maxPixels: 1e6,
  };
  const slow = new DetectRunner(1);
  t.teardown(() => slow.close());
  await t.rejects(slow.run(task), { code: 'FLO_TIMEOUT', status: 504 }, 'over 1 ms: FLO_TIMEOUT');
  slow.timeoutMs = 120_000;
  t.ok((await slow.run(task)).width === 64, 'the next request runs in a fresh thread');
  const runner = new DetectRunner();
  t.teardown(() => runner.close());
  const all = Array.from({ length: MAX_QUEUED + 1 }, () =>
    runner.run(task).then(
      (r) => r,
      (e: unknown) => e,
    ),
  );
  const results = await Promise.all(all);
  const busy = results.filter((r) => r instanceof FlotillaError && r.code === 'FLO_UNAVAILABLE');
  t.equal(busy.length, 1, `the request beyond ${MAX_QUEUED} in line is refused as busy (retryable)`);
  const done = results.filter((r) => !(r instanceof Error)) as { detections: { xyxy: number[] }[] }[];
  t.equal(done.length, MAX_QUEUED, 'the others run, one after another');
  t.same(
    done.map((d) => d.detections),
    Array(MAX_QUEUED).fill(done[0].detections),
    'with the same boxes (the model loaded once, kept)',
  );
});

t.test('roles: a viewer is refused, a submitter runs it', async (t) => {
  const { head } = await headFixture(t, { restAuth: true });
  const admin = { authorization: `Bearer ${head.firstAdminToken}` };
  const token = async (role: string) =>
    (await head.app.inject({ method: 'POST', url: '/v1/tokens', headers: admin, payload: { role } })).json().token;
  const payload = { job: 'nosuch', image: 'AAAA' };
  const asViewer = await head.app.inject({
    method: 'POST',
    url: '/v1/detect',
    headers: { authorization: `Bearer ${await token('viewer')}` },
    payload,
  });
  t.equal(asViewer.statusCode, 403);
  const asSubmitter = await head.app.inject({
    method: 'POST',
    url: '/v1/detect',
    headers: { authorization: `Bearer ${await token('submitter')}` },
    payload,
  });
  t.equal(asSubmitter.statusCode, 404, 'a submitter gets past auth (to the unknown job)');
  const anon = await head.app.inject({ method: 'POST', url: '/v1/detect', payload });
  t.equal(anon.statusCode, 401);
});

t.test('the head loads no tfjs: the REST app imports without creating a tfjs engine', async (t) => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', "await import('./head/head.ts'); console.log(typeof globalThis._tfengine)"],
    { cwd: root, encoding: 'utf8' },
  );
  t.equal(out.trim(), 'undefined');
});

t.test('docs/yolov5-weights-detect.md documents every request field', async (t) => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/yolov5-weights-detect.md', import.meta.url)), 'utf8');
  const keys = Object.keys(DetectRequest.shape);
  t.ok(keys.length >= 8, `${keys.length} fields`);
  t.same(
    keys.filter((k) => !doc.includes(`| \`${k}\` |`)),
    [],
    'each one has its row',
  );
});
