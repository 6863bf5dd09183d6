/** Model export, as YOLOv5's export.py: ONNX and a TensorFlow.js graph model (inference mode, decoded boxes). */
export { exportOnnx, irVersionFor, DEFAULT_OPSET } from './onnx.ts';
export type { OnnxOptions } from './onnx.ts';
export { MIN_OPSET, MAX_OPSET } from './onnx-yolo.ts';
export { exportRun, checkInclude, ExportError, EXPORT_FORMATS } from './run.ts';
export type { ExportOptions, ExportResult, ExportFormat } from './run.ts';
export { decodeModel } from './onnx-proto.ts';
export { exportTfjs, TFJS_SHARD } from './tfjs.ts';
export type { TfjsOptions, TfjsModel } from './tfjs.ts';
