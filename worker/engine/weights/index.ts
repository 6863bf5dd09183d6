/** Weights files in: PyTorch .pt (safe pickle reader, zip) and our checkpoints, transferred into a model. */
export { modelFromPretrained, readPretrained, readPretrainedBytes, transferPretrained, WeightsError } from './pretrained.ts';
export type { Pretrained, TransferReport } from './pretrained.ts';
export { readTorchFile } from './torch-file.ts';
export type { TorchWeights } from './torch-file.ts';
export { unpickle, classify, halfToFloat, PickleError, PyGlobal, PyObject, PyTensor, StorageRef } from './pickle.ts';
export { ZipReader, ZipFormatError, isZip } from './zip.ts';
