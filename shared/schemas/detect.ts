/**
 * POST /v1/detect: a job's weights (one of its .ckpt/.pt artifacts, best.ckpt by default) run
 * on one uploaded image, as `flotilla detect` runs them; the reply's boxes are in image pixels.
 */
import { z } from 'zod';
import { MAX_NAME, MAX_ROWS } from './bounds.ts';
import { Id } from './common.ts';

/** The largest image accepted, encoded (JPEG/PNG/WebP/…); base64 makes the body about 4/3 of it. */
export const MAX_DETECT_IMAGE_BYTES = 8 << 20;
/** The request body limit of the route: the base64 image and the few other fields. */
export const DETECT_BODY_LIMIT = Math.ceil(MAX_DETECT_IMAGE_BYTES / 3) * 4 + 64 * 1024;
/** Decoded images above this many pixels are refused (a 40 MP photo decodes to 120 MB of RGB). */
export const MAX_DETECT_PIXELS = 40_000_000;

export const DetectRequest = z.strictObject({
  job: Id,
  /** which artifact of the job holds the weights */
  weights: z
    .string()
    .max(MAX_NAME)
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\.(ckpt|pt)$/, 'an artifact name ending in .ckpt or .pt')
    .default('best.ckpt'),
  /** the image file's bytes, base64 */
  image: z
    .string()
    .min(1)
    .max(Math.ceil(MAX_DETECT_IMAGE_BYTES / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (standard alphabet)'),
  /** inference size, long side (rounded up to the stride), as detect.py --img */
  img: z.number().int().min(32).max(1280).default(640),
  conf_thres: z.number().min(0).max(1).default(0.25),
  iou_thres: z.number().min(0).max(1).default(0.45),
  max_det: z.number().int().min(1).max(1000).default(300),
  classes: z.array(z.number().int().nonnegative()).max(1000).optional(),
});
export type DetectRequest = z.infer<typeof DetectRequest>;

export const DetectBox = z.object({
  /** x1, y1, x2, y2 in image pixels */
  xyxy: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  conf: z.number(),
  cls: z.number().int().nonnegative(),
  name: z.string().max(MAX_NAME),
});

export const DetectReply = z.object({
  job: Id,
  weights: z.string().max(MAX_NAME),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** the letterboxed input the model saw, [h, w] */
  input: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  detections: z.array(DetectBox).max(MAX_ROWS),
  /** letterbox + forward + NMS */
  ms: z.number().nonnegative(),
});
export type DetectReply = z.infer<typeof DetectReply>;
