/** A tiny architecture in the YOLOv5 yaml format that uses every registered module, for fast tests. */
import type { ModelYaml } from '../../worker/engine/model/index.ts';

export function tinyYaml(): ModelYaml {
  return {
    nc: 2,
    depth_multiple: 1,
    width_multiple: 1,
    anchors: [
      [10, 13, 16, 30],
      [30, 61, 62, 45],
    ],
    backbone: [
      [-1, 1, 'Conv', [8, 6, 2, 2]], // 0  /2
      [-1, 2, 'Conv', [8, 3, 1]], // 1  two copies in a Sequential
      [-1, 1, 'Conv', [16, 3, 2]], // 2  /4
      [-1, 1, 'C3', [16]], // 3
      [-1, 1, 'Conv', [16, 3, 2]], // 4  /8
      [-1, 1, 'SPPF', [16, 5]], // 5
    ],
    head: [
      [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']], // 6  /4
      [[-1, 3], 1, 'Concat', [1]], // 7
      [-1, 1, 'Bottleneck', [32, false]], // 8
      [[8, 5], 1, 'Detect', ['nc', 'anchors']], // 9
    ],
  };
}

/**
 * Modules of the equivalent PyTorch tree, counted by hand: DetectionModel + Sequential (2),
 * Conv = Conv+Conv2d+BN (3; the SiLU is one shared instance, +1 at the end), layer 1 is a
 * Sequential of 2 Convs (7), C3 n=1 = C3 + 3 Convs + Sequential + Bottleneck(1 + 2 Convs) (18),
 * SPPF = SPPF + 2 Convs + MaxPool (8), Upsample 1, Concat 1, Bottleneck 7, Detect + ModuleList
 * + 2 Conv2d (4).
 */
export const TINY_MODULES = 2 + 3 + 7 + 3 + 18 + 3 + 8 + 1 + 1 + 7 + 4 + 1;
