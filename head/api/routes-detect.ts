/**
 * POST /v1/detect: one image through a job's weights (best.ckpt by default, or another .ckpt/.pt
 * artifact of the job), as `flotilla detect` runs them (worker/engine/detect, in the head's detect
 * thread: head/detect/runner.ts). The image comes base64 in the JSON body (at most 8 MiB encoded).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { FlotillaError } from '../../shared/errors.ts';
import { DETECT_BODY_LIMIT, DetectReply, DetectRequest, MAX_DETECT_PIXELS } from '../../shared/schemas/detect.ts';
import { assertFound } from '../controller.ts';
import { DetectRunner } from '../detect/runner.ts';
import type { ApiContext } from './context.ts';
import { ErrorReply } from './errors.ts';

/** The largest weights artifact loaded (a YOLOv5x checkpoint with its EMA is ~350 MB). */
export const MAX_WEIGHTS_BYTES = 512 << 20;

async function readAll(body: ReadableStream<Uint8Array>, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > size) throw new FlotillaError('FLO_INTERNAL', 'artifact longer than its recorded size');
    out.set(chunk, at);
    at += chunk.length;
  }
  return at === size ? out : out.subarray(0, at);
}

export function detectRoutes(app: FastifyInstance, ctx: ApiContext, runner = new DetectRunner()): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.addHook('onClose', async () => {
    await runner.close();
  });
  r.post(
    '/v1/detect',
    {
      // it runs the model on the head's CPU: the submitter role, as for work submitted to the pool
      config: { role: 'submitter' },
      bodyLimit: DETECT_BODY_LIMIT,
      schema: {
        summary: "Run a job's weights (best.ckpt by default) on one image (base64); boxes in image pixels",
        tags: ['jobs'],
        body: DetectRequest,
        response: { 200: DetectReply, 400: ErrorReply, 404: ErrorReply, 503: ErrorReply, 504: ErrorReply },
      },
    },
    async (req) => {
      const b = req.body;
      const job = assertFound(ctx.ctl.jobs.get(b.job), b.job);
      const image = Buffer.from(b.image, 'base64');
      if (!image.length)
        throw new FlotillaError('FLO_VALIDATION', 'invalid request: body.image: empty', {
          details: [{ field: 'body.image', message: 'empty' }],
        });
      const art = await ctx.artifact(job.id, b.weights);
      if (!art)
        throw new FlotillaError(
          'FLO_NOT_FOUND',
          `job ${job.id} has no artifact ${b.weights} (a yolov5 job writes best.ckpt and last.ckpt when it ends)`,
        );
      if (art.size > MAX_WEIGHTS_BYTES) {
        await art.body.cancel();
        throw new FlotillaError(
          'FLO_VALIDATION',
          `invalid request: body.weights: ${b.weights} is ${art.size} bytes, more than ${MAX_WEIGHTS_BYTES}`,
          { details: [{ field: 'body.weights', message: 'too large' }] },
        );
      }
      const weights = await readAll(art.body, art.size);
      const res = await runner.run({
        label: `${job.id}/${b.weights}`,
        weights,
        image,
        img: b.img,
        confThres: b.conf_thres,
        iouThres: b.iou_thres,
        maxDet: b.max_det,
        maxPixels: MAX_DETECT_PIXELS,
        ...(b.classes ? { classes: b.classes } : {}),
      });
      return {
        job: job.id,
        weights: b.weights,
        width: res.width,
        height: res.height,
        input: res.inputShape,
        detections: res.detections,
        ms: res.ms,
      };
    },
  );
}
