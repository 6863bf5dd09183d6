/** The checkpoint container format (safetensors-like) and its file I/O. */
export {
  DTYPES,
  CheckpointFormatError,
  decodeCheckpoint,
  dtypeOf,
  encodeCheckpoint,
  stored,
} from './format.ts';
export type { CheckpointContent, DType, Json, StoredTensor, TensorData } from './format.ts';
export { loadCheckpoint, saveCheckpoint, sha256 } from './file.ts';
