/** The label sizes and image sizes of a dataset split, as AutoAnchor reads them. */
import { readImageSize, type YoloDataset } from '../data/index.ts';
import type { LabelShapes } from './autoanchor.ts';

/** Reads every image's size from its header (no decode). */
export async function labelShapes(ds: YoloDataset): Promise<LabelShapes> {
  const wh: number[] = [],
    imageSize: number[] = [],
    image: number[] = [];
  for (let start = 0; start < ds.items.length; start += 256) {
    const batch = ds.items.slice(start, start + 256);
    const sizes = await Promise.all(batch.map((it) => readImageSize(it.imagePath)));
    batch.forEach((it, b) => {
      for (let r = 0; r < it.labels.length; r += 5) {
        wh.push(it.labels[r + 3], it.labels[r + 4]);
        imageSize.push(sizes[b].width, sizes[b].height);
        image.push(start + b);
      }
    });
  }
  return { wh, imageSize, image, images: ds.items.length };
}
