/**
 * The typed module registry: each yaml module name maps to an argument schema and a builder
 * that applies Ultralytics' `parse_model` rules (width scaling of output channels, repeats
 * folded into CSP modules, input channels from the `from` layers). Strings in `args` are looked
 * up (`nc`, `anchors`, `None`, `True`, `False`) and never evaluated.
 */
import { z } from 'zod';
import { Bottleneck, C3, Concat, Repeated, SPPF, Upsample } from './blocks.ts';
import { Conv } from './conv.ts';
import type { SeededRandom } from './init.ts';
import type { Block } from './module.ts';
import { makeDivisible, ModelConfigError, type ModelYaml } from './model-yaml.ts';

/** What a builder sees of the model being parsed. */
export interface BuildContext {
  readonly yaml: ModelYaml;
  /** output channels of the `from` layers, in order */
  readonly inChannels: number[];
  /** repeats after the depth gain */
  readonly n: number;
  /** `na·(nc+5)`: an output channel count equal to it is not width-scaled */
  readonly no: number;
  readonly rng: SeededRandom;
}

/** A registered block module. */
export interface BlockSpec<A> {
  readonly args: z.ZodType<A>;
  /** whether `n` is passed to the module (CSP modules) instead of building `n` copies */
  readonly takesRepeats: boolean;
  /** the PyTorch class, as Ultralytics' layer table names it */
  readonly qualname: string;
  /** whether the constructor takes (c1, c2, …): the table then shows channels, as Ultralytics does */
  readonly channelArgs: boolean;
  build(args: A, ctx: BuildContext): Block;
}

const bool = z.boolean();
const int = z.number().int();

function scaleWidth(c2: number, ctx: BuildContext): number {
  return c2 !== ctx.no ? makeDivisible(c2 * ctx.yaml.width_multiple, 8) : c2;
}

function single(ctx: BuildContext, module: string): number {
  if (ctx.inChannels.length !== 1) throw new ModelConfigError(`${module} takes one input, got ${ctx.inChannels.length}`);
  return ctx.inChannels[0];
}

const ConvArgs = z
  .tuple([int.positive()])
  .rest(z.union([int, bool, z.null()]))
  .transform(([c2, k = 1, s = 1, p = null, g = 1, d = 1, act = true], zctx) => {
    if (typeof k !== 'number' || typeof s !== 'number' || (p !== null && typeof p !== 'number') || typeof act !== 'boolean') {
      zctx.addIssue({ code: 'custom', message: 'expected [c2, k, s, p|None, g, d, act]' });
      return z.NEVER;
    }
    if (g !== 1 || d !== 1) {
      zctx.addIssue({ code: 'custom', message: `groups/dilation other than 1 are not supported (g=${String(g)}, d=${String(d)})` });
      return z.NEVER;
    }
    return { c2, k, s, p: p as number | null, act };
  });

const C3Args = z
  .tuple([int.positive()])
  .rest(z.union([bool, z.number()]))
  .transform(([c2, shortcut = true, g = 1, e = 0.5], zctx) => {
    if (typeof shortcut !== 'boolean' || g !== 1 || typeof e !== 'number') {
      zctx.addIssue({ code: 'custom', message: 'expected [c2, shortcut, g=1, e]' });
      return z.NEVER;
    }
    return { c2, shortcut, e };
  });

export const REGISTRY: Readonly<Record<string, BlockSpec<never>>> = Object.freeze({
  Conv: spec({
    qualname: 'models.common.Conv',
    channelArgs: true,
    args: ConvArgs,
    takesRepeats: false,
    build: (a, ctx) => new Conv(single(ctx, 'Conv'), scaleWidth(a.c2, ctx), a.k, a.s, a.p, a.act, ctx.rng),
  }),
  Bottleneck: spec({
    qualname: 'models.common.Bottleneck',
    channelArgs: true,
    args: C3Args,
    takesRepeats: false,
    build: (a, ctx) => new Bottleneck(single(ctx, 'Bottleneck'), scaleWidth(a.c2, ctx), a.shortcut, a.e, ctx.rng),
  }),
  C3: spec({
    qualname: 'models.common.C3',
    channelArgs: true,
    args: C3Args,
    takesRepeats: true,
    build: (a, ctx) => new C3(single(ctx, 'C3'), scaleWidth(a.c2, ctx), ctx.n, a.shortcut, a.e, ctx.rng),
  }),
  SPPF: spec({
    qualname: 'models.common.SPPF',
    channelArgs: true,
    args: z
      .tuple([int.positive()])
      .rest(int.positive())
      .transform(([c2, k = 5]) => ({ c2, k })),
    takesRepeats: false,
    build: (a, ctx) => new SPPF(single(ctx, 'SPPF'), scaleWidth(a.c2, ctx), a.k, ctx.rng),
  }),
  'nn.Upsample': spec({
    qualname: 'torch.nn.modules.upsampling.Upsample',
    channelArgs: false,
    args: z.tuple([z.null(), z.number().int().positive(), z.literal('nearest')]).transform(([, scale]) => ({ scale })),
    takesRepeats: false,
    build: (a, ctx) => new Upsample(single(ctx, 'nn.Upsample'), a.scale),
  }),
  Concat: spec({
    qualname: 'models.common.Concat',
    channelArgs: false,
    args: z.tuple([z.literal(1)]),
    takesRepeats: false,
    build: (_a, ctx) => new Concat(ctx.inChannels.reduce((s, c) => s + c, 0)),
  }),
});

function spec<A>(s: BlockSpec<A>): BlockSpec<never> {
  return s as unknown as BlockSpec<never>;
}

/** Resolves the names a yaml row may use in `args`. */
export function resolveArgs(args: unknown[], yaml: ModelYaml): unknown[] {
  return args.map((a) => {
    if (typeof a !== 'string') return a;
    if (a === 'nc') return yaml.nc;
    if (a === 'anchors') return yaml.anchors;
    if (a === 'None') return null;
    if (a === 'True') return true;
    if (a === 'False') return false;
    return a;
  });
}

/** A built row: the block, and its class and arguments as Ultralytics' layer table shows them. */
export interface BuiltBlock {
  readonly block: Block;
  readonly qualname: string;
  readonly shownArgs: unknown[];
}

/** Builds row `index` of the yaml (not Detect) into a block, repeating per Ultralytics' rules. */
export function buildBlock(module: string, args: unknown[], index: number, ctx: BuildContext): BuiltBlock {
  const s = REGISTRY[module];
  if (!s) {
    throw new ModelConfigError(`layer ${index}: unknown module '${module}' (known: ${[...Object.keys(REGISTRY), 'Detect'].join(', ')})`);
  }
  const r = (s.args as z.ZodType<unknown>).safeParse(resolveArgs(args, ctx.yaml));
  if (!r.success) {
    throw new ModelConfigError(
      `layer ${index} (${module}): bad args ${JSON.stringify(args)}: ${r.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  const build = s.build as (a: unknown, c: BuildContext) => Block;
  let block: Block;
  if (s.takesRepeats || ctx.n === 1) {
    block = build(r.data, ctx);
  } else {
    const items = Array.from({ length: ctx.n }, () => build(r.data, ctx));
    if (items[0].outChannels !== single(ctx, module)) {
      throw new ModelConfigError(`layer ${index} (${module}): ${ctx.n} repeats need equal input and output channels`);
    }
    block = new Repeated(items);
  }
  const resolved = resolveArgs(args, ctx.yaml);
  let shownArgs = resolved;
  if (s.channelArgs) {
    shownArgs = [ctx.inChannels[0], block.outChannels, ...(s.takesRepeats ? [ctx.n] : []), ...resolved.slice(1)];
  }
  return { block, qualname: s.qualname, shownArgs };
}
