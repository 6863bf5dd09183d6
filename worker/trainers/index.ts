export { run as runLogreg, datasetSize, paramsDigest } from './logreg.ts';
export { batchRows, generateDataset, gradientSums, type Dataset } from './logreg-math.ts';
export { encodeLogregState, decodeLogregState, LOGREG_FORMAT, type LogregState } from './logreg-state.ts';
export { Rng, type RngState } from './rng.ts';
