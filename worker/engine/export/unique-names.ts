/** Names unique within one exported graph (ONNX values, TF nodes): `base`, then `base_1`, `base_2`, … */
export class UniqueNames {
  private readonly used = new Set<string>();

  /** A fresh name starting with `base`, now taken. */
  fresh(base: string): string {
    let n = base,
      k = 1;
    while (this.used.has(n)) n = `${base}_${k++}`;
    this.used.add(n);
    return n;
  }

  /** Marks a name the caller chose as taken. */
  take(name: string): void {
    this.used.add(name);
  }
}
