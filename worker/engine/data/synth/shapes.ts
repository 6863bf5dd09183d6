/**
 * The shapes the synthetic set draws. Each fills its bounding box exactly (touches all four
 * sides), so the box it is drawn in is its tight label. `inside(u, v)` takes coordinates in
 * [-1, 1]² across the box (v grows downwards).
 */
export interface ShapeKind {
  name: string;
  inside(u: number, v: number): boolean;
}

const ARM = 0.34;

/** The drawable shapes, by class name. */
export const SHAPES: Readonly<Record<string, ShapeKind>> = {
  circle: { name: 'circle', inside: (u, v) => u * u + v * v <= 1 },
  square: { name: 'square', inside: () => true },
  triangle: { name: 'triangle', inside: (u, v) => Math.abs(u) <= (v + 1) / 2 },
  diamond: { name: 'diamond', inside: (u, v) => Math.abs(u) + Math.abs(v) <= 1 },
  cross: { name: 'cross', inside: (u, v) => Math.abs(u) <= ARM || Math.abs(v) <= ARM },
  ring: {
    name: 'ring',
    inside: (u, v) => {
      const r = u * u + v * v;
      return r <= 1 && r >= 0.36;
    },
  },
  hexagon: { name: 'hexagon', inside: (u, v) => Math.abs(u) <= 1 - Math.abs(v) / 2 },
};

/** The default classes of the synthetic set. */
export const DEFAULT_CLASSES: readonly string[] = ['circle', 'square', 'triangle'];
