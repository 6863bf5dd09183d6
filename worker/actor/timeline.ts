/**
 * Where a (re)start of a rank spends its time: named marks from the trainer's start (or its
 * regroup) to its first completed step, reported as one `log` job event
 * (`timeline generation=G t0=<epoch ms> backend=+28 model=+410 … step=+1900`), so a benchmark
 * can lay the phases beside the fault's own time (bench/recovery.ts).
 */
export class Timeline {
  private t0 = Date.now();
  private marks: [string, number][] = [];

  /** starts a new timeline now (a survivor's regroup) */
  restart(): void {
    this.t0 = Date.now();
    this.marks = [];
  }

  mark(name: string): void {
    this.marks.push([name, Date.now()]);
  }

  /** marks `name` unless this timeline has it already (a mark inside a loop); only while open */
  once(name: string): void {
    if (this.open && !this.marks.some(([n]) => n === name)) this.mark(name);
  }

  /** true until the timeline was reported (then the first step of this generation has been taken) */
  get open(): boolean {
    return this.marks.length > 0;
  }

  /** the report line, and closes the timeline */
  take(generation: number): string {
    const line = `timeline generation=${generation} t0=${this.t0} ${this.marks.map(([n, t]) => `${n}=+${t - this.t0}`).join(' ')}`;
    this.marks = [];
    return line;
  }
}

/** The marks of a `timeline` log line: name -> epoch ms (t0 included). */
export function parseTimeline(msg: string): { generation: number; at: Record<string, number> } | null {
  const m = /^timeline generation=(\d+) t0=(\d+)((?: \S+=\+\d+)*)$/.exec(msg);
  if (!m) return null;
  const t0 = Number(m[2]);
  const at: Record<string, number> = { t0 };
  for (const kv of m[3].trim().split(' ').filter(Boolean)) {
    const [k, v] = kv.split('=+');
    at[k] = t0 + Number(v);
  }
  return { generation: Number(m[1]), at };
}
