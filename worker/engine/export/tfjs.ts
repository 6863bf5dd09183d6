/**
 * `export.py --include tfjs`: a YoloModel as a TensorFlow.js graph model — model.json (format
 * 'graph-model', the GraphDef of tfjs-yolo.ts, a weights manifest) and one float32/int32 shard,
 * group1-shard1of1.bin. Load it with tf.loadGraphModel('…/model.json'); input NHWC.
 */
import { TfGraphBuilder } from './tfjs-graph.ts';
import { yoloToTf } from './tfjs-yolo.ts';
import type { YoloModel } from '../model/index.ts';

export const TFJS_SHARD = 'group1-shard1of1.bin';

export interface TfjsOptions {
  /** input height and width, multiples of the model's largest stride */
  readonly img: [number, number];
  /** class names for the metadata (default class0 …) */
  readonly names?: readonly string[];
}

export interface TfjsModel {
  /** model.json's object */
  readonly json: Record<string, unknown>;
  /** the shard's bytes */
  readonly weights: Uint8Array;
}

export function exportTfjs(model: YoloModel, o: TfjsOptions): TfjsModel {
  const [h, w] = o.img;
  const g = new TfGraphBuilder();
  yoloToTf(g, model, h, w);
  const names = o.names ?? Array.from({ length: model.nc }, (_, i) => `class${i}`);
  return {
    json: {
      format: 'graph-model',
      generatedBy: 'flotilla',
      convertedBy: 'flotilla export (inference mode: decoded xywh, objectness, class scores; input NHWC 0..1)',
      modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: [TFJS_SHARD], weights: g.weights }],
      userDefinedMetadata: { stride: Math.max(...model.strides), names, input: [-1, h, w, 3], output: 'output0' },
    },
    weights: g.weightData(),
  };
}
