import t from 'tap';
import * as tf from '@tensorflow/tfjs';

import { BINARY_OPS, UNARY_OPS } from '../../worker/native/index.ts';
import { compare, rand, setup } from './harness.ts';

const s = await setup();
if (s.skip !== undefined) {
  t.skip(s.skip, () => {});
} else {
  const { reg } = s;
  const binaries: Record<keyof typeof BINARY_OPS & string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
    Add: tf.add,
    Sub: tf.sub,
    Multiply: tf.mul,
    RealDiv: tf.div,
    Maximum: tf.maximum,
    Minimum: tf.minimum,
    SquaredDifference: tf.squaredDifference,
    Pow: tf.pow,
  };
  // Pairs of shapes: equal, scalar, per-channel, middle broadcast, both sides broadcast, large.
  const pairs: Array<[number[], number[]]> = [
    [
      [4, 5, 6],
      [4, 5, 6],
    ],
    [[3, 7], []],
    [[], [5, 2]],
    [[2, 6, 6, 8], [8]],
    [
      [2, 6, 6, 8],
      [2, 1, 1, 8],
    ],
    [
      [2, 6, 6, 8],
      [2, 6, 6, 1],
    ],
    [
      [5, 1, 3],
      [1, 4, 3],
    ],
    [
      [3, 1],
      [1, 7],
    ],
    [
      [8, 40, 40, 16],
      [1, 1, 1, 16],
    ],
    [
      [1, 300000],
      [1, 300000],
    ],
  ];
  for (const [name, fn] of Object.entries(binaries)) {
    for (const [as, bs] of pairs) {
      // Pow gets a positive base, RealDiv a divisor away from zero.
      const a = name === 'Pow' ? rand(as, 0.1, 2) : rand(as);
      const b = name === 'RealDiv' ? rand(bs, 0.5, 2) : rand(bs);
      compare(t, reg, name, `${name} [${as}] [${bs}]`, () => fn(a, b));
    }
  }
  const unaries: Record<keyof typeof UNARY_OPS & string, [(x: tf.Tensor) => tf.Tensor, number, number]> = {
    Neg: [tf.neg, -3, 3],
    Exp: [tf.exp, -5, 5],
    Log: [tf.log, 0.01, 10],
    Sigmoid: [tf.sigmoid, -8, 8],
    Relu: [tf.relu, -2, 2],
    Relu6: [tf.relu6, -3, 9],
    Sqrt: [tf.sqrt, 0, 9],
    Rsqrt: [tf.rsqrt, 0.1, 9],
    Square: [tf.square, -3, 3],
    Abs: [tf.abs, -3, 3],
    Tanh: [tf.tanh, -4, 4],
    Softplus: [tf.softplus, -20, 20],
    Reciprocal: [tf.reciprocal, 0.5, 4],
    Atan: [tf.atan, -10, 10],
    Log1p: [tf.log1p, -0.5, 5],
    Expm1: [tf.expm1, -3, 3],
    Elu: [tf.elu, -3, 3],
    Step: [(x) => tf.step(x, 0.25), -2, 2],
    LeakyRelu: [(x) => tf.leakyRelu(x, 0.1), -2, 2],
    Sign: [tf.sign, -2, 2],
    Floor: [tf.floor, -5, 5],
    Ceil: [tf.ceil, -5, 5],
    ClipByValue: [(x) => tf.clipByValue(x, -0.3, 0.6), -1, 1],
    Sin: [tf.sin, -6, 6],
    Cos: [tf.cos, -6, 6],
  };
  for (const [name, [fn, lo, hi]] of Object.entries(unaries)) {
    for (const shape of [[7], [3, 40, 40, 5]]) {
      const x = rand(shape, lo, hi);
      compare(t, reg, name, `${name} [${shape}]`, () => fn(x));
    }
  }
  const xs = [rand([2, 9, 9, 4]), rand([2, 9, 9, 4]), rand([2, 9, 9, 4])];
  compare(t, reg, 'AddN', 'addN of 3', () => tf.addN(xs));
  const x = rand([4, 10, 10, 8]);
  compare(t, reg, 'Multiply', 'gradient of SiLU', () => tf.grad((v: tf.Tensor) => v.mul(tf.sigmoid(v)).sum())(x));
}
