/** The YOLOv5 model: architecture yaml → TF.js variables, forward/decode, state dicts, summary. */
export { buildModel, YoloModel } from './yolo-model.ts';
export type { BuildOptions, ForwardOptions, TrainableVariables } from './yolo-model.ts';
export { loadModelYaml, ModelYaml, ModelConfigError, BUILTIN_CFGS, CFG_DIR, makeDivisible, pyRound, scaleDepth } from './model-yaml.ts';
export { StateDictError, oihwToHwio, hwioToOihw } from './state.ts';
export type { TorchTensorInfo, LoadOptions, LoadReport } from './state.ts';
export { formatSummary, formatLayerRow, LAYER_TABLE_HEADER, pyRepr } from './summary.ts';
export type { ModelSummary, LayerRowInfo } from './summary.ts';
export type { NamedTensor, TensorKind } from './module.ts';
export { BN_EPS, BN_MOMENTUM } from './conv.ts';
export { REGISTRY } from './registry.ts';
