/**
 * The GPUs a node offers: found with `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`
 * when that tool exists (none otherwise), or declared (FLOTILLA_GPU_INVENTORY / `flotilla worker
 * --gpu-inventory`: fake GPUs, for tests and for placement experiments on CPU machines), then cut
 * to what `--gpus N|all|none` allows. The agent pins each actor to the indices the head gave it.
 */
import { execFile } from 'node:child_process';
import { FlotillaError } from '../../shared/errors.ts';
import { MAX_NODE_GPUS, type GpuInfo, type GpuSource, type GpuStats } from '../../shared/schemas/index.ts';

/** A declared (fake) inventory: `[Nx]MODEL[:MEMORY_MIB]`, comma separated, e.g. `2xFake H100:81920,Fake A10:24576`. */
export const GPU_INVENTORY_ENV = 'FLOTILLA_GPU_INVENTORY';
/** The nvidia-smi binary (default `nvidia-smi` on PATH); tests point it at a script. */
export const NVIDIA_SMI_ENV = 'FLOTILLA_NVIDIA_SMI';

export const QUERY_FIELDS = 'index,uuid,name,memory.total,memory.used,utilization.gpu';

/** How many GPUs to offer: every one found, none, or the first N (by index). */
export type GpuWant = 'all' | 'none' | number;

export interface GpuInventory {
  source: GpuSource;
  gpus: GpuInfo[];
  /** the figures of the query that found them (nvidia-smi only) */
  stats?: GpuStats[];
  /**
   * whether actors get CUDA_VISIBLE_DEVICES (their own GPUs, or '' for none): true when the node
   * offers GPUs or was told `--gpus none`; false when none was found, so that env is left as it is
   */
  pin: boolean;
}

/** Parses a declared inventory; throws FLO_CONFIG naming the bad entry. */
export function parseDeclaredInventory(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const raw of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const m = /^(?:(\d+)\s*x\s*)?([^:]+?)(?::(\d+))?$/.exec(raw);
    const count = m ? Number(m[1] ?? 1) : 0;
    if (!m || count < 1)
      throw new FlotillaError('FLO_CONFIG', `${GPU_INVENTORY_ENV}: '${raw}' is not [Nx]MODEL[:MEMORY_MIB] (e.g. 2xFake H100:81920)`);
    for (let i = 0; i < count; i++) out.push({ index: out.length, model: m[2], memory_total_mib: Number(m[3] ?? 0) });
  }
  if (out.length > MAX_NODE_GPUS)
    throw new FlotillaError('FLO_CONFIG', `${GPU_INVENTORY_ENV}: ${out.length} GPUs declared, at most ${MAX_NODE_GPUS}`);
  return out;
}

const num = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0; // "[N/A]", "[Not Supported]"
};

/** Parses nvidia-smi's `csv,noheader,nounits` answer to QUERY_FIELDS. */
export function parseSmiCsv(text: string): { gpus: GpuInfo[]; stats: GpuStats[] } {
  const gpus: GpuInfo[] = [];
  const stats: GpuStats[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const f = line.split(',').map((x) => x.trim());
    if (f.length < 6 || !/^\d+$/.test(f[0])) continue;
    // a model name with a comma in it keeps its pieces: the numbers are the last three fields
    const [index, uuid] = [Number(f[0]), f[1]];
    const tail = f.slice(-3);
    const model = f.slice(2, -3).join(', ') || 'GPU';
    gpus.push({ index, model, memory_total_mib: Math.round(num(tail[0])), ...(uuid.startsWith('GPU-') ? { uuid } : {}) });
    stats.push({ index, memory_used_mib: Math.round(num(tail[1])), utilization_pct: Math.min(100, Math.max(0, num(tail[2]))) });
  }
  return { gpus, stats };
}

/** Runs nvidia-smi; null when it is not there or fails (a node without a usable NVIDIA driver). */
export function queryNvidiaSmi(
  bin = process.env[NVIDIA_SMI_ENV] || 'nvidia-smi',
  timeoutMs = 5000,
): Promise<{ gpus: GpuInfo[]; stats: GpuStats[] } | null> {
  return new Promise((resolve) => {
    execFile(
      bin,
      [`--query-gpu=${QUERY_FIELDS}`, '--format=csv,noheader,nounits'],
      { timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout) => {
        if (err) {
          resolve(null);
          return;
        }
        resolve(parseSmiCsv(stdout));
      },
    );
  });
}

/** The first `want` of `found` (all, none, or N); asking for more than there are is a config error. */
export function selectGpus(found: readonly GpuInfo[], want: GpuWant, source: GpuSource): GpuInfo[] {
  if (want === 'none') return [];
  if (want === 'all') return [...found];
  if (want > found.length) {
    const where = source === 'none' ? 'no GPU was found (nvidia-smi is missing or failed)' : `${found.length} found (${source})`;
    throw new FlotillaError('FLO_CONFIG', `--gpus ${want}: ${where}; use --gpus all, a smaller number, or none`);
  }
  return found.slice(0, want);
}

/**
 * The node's inventory: a declared one when given (nvidia-smi is not asked), else nvidia-smi's,
 * else none; then cut to `want`.
 */
export async function findGpus(o: {
  want: GpuWant;
  declared?: string;
  smi?: () => Promise<{ gpus: GpuInfo[]; stats: GpuStats[] } | null>;
}): Promise<GpuInventory> {
  if (o.declared !== undefined && o.declared.trim() !== '') {
    return { source: 'declared', gpus: selectGpus(parseDeclaredInventory(o.declared), o.want, 'declared'), pin: true };
  }
  if (o.want === 'none') return { source: 'none', gpus: [], pin: true };
  const q = await (o.smi ?? (() => queryNvidiaSmi()))();
  if (!q || q.gpus.length === 0) return { source: 'none', gpus: selectGpus([], o.want, 'none'), pin: false };
  const gpus = selectGpus(q.gpus, o.want, 'nvidia-smi');
  const keep = new Set(gpus.map((g) => g.index));
  return { source: 'nvidia-smi', gpus, stats: q.stats.filter((s) => keep.has(s.index)), pin: true };
}

/** Env pinning an actor to `gpus` (none: an empty list hides every GPU from CUDA). */
export function gpuEnv(gpus: readonly number[]): Record<string, string> {
  return { CUDA_VISIBLE_DEVICES: gpus.join(','), CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
}

/**
 * Live figures of the offered GPUs, refreshed in the background at most every `everyMs` (one
 * nvidia-smi at a time) and read by each heartbeat. Only an nvidia-smi inventory has any.
 */
export class GpuMonitor {
  #stats: GpuStats[] | undefined;
  #at = 0;
  #busy = false;
  readonly #keep: Set<number>;
  constructor(
    private readonly inv: GpuInventory,
    private readonly everyMs = 5000,
    private readonly query = () => queryNvidiaSmi(),
  ) {
    this.#keep = new Set(inv.gpus.map((g) => g.index));
    this.#stats = inv.stats;
    this.#at = Date.now();
  }

  /** The newest figures (absent for a declared or empty inventory); starts a refresh when they are old. */
  sample(now = Date.now()): GpuStats[] | undefined {
    if (this.inv.source !== 'nvidia-smi' || this.#keep.size === 0) return undefined;
    if (!this.#busy && now - this.#at >= this.everyMs) {
      this.#busy = true;
      void this.query()
        .then((q) => {
          if (q) this.#stats = q.stats.filter((s) => this.#keep.has(s.index));
        })
        .finally(() => {
          this.#busy = false;
          this.#at = Date.now();
        });
    }
    return this.#stats;
  }
}
