/** AutoAnchor: the anchor-fit metric, k-means and the reference's check_anchors. */
export { anchorFit, ratioMetric, type AnchorFit, type Sizes } from './metric.ts';
export { assign, kmeans, type KmeansResult } from './kmeans.ts';
export {
  AUTOANCHOR_PREFIX,
  BPR_REFIT,
  checkAnchors,
  kmeanAnchors,
  pixelSizes,
  sortByArea,
  type CheckAnchorsResult,
  type KmeanOptions,
  type LabelShapes,
} from './autoanchor.ts';
export { labelShapes } from './label-shapes.ts';
