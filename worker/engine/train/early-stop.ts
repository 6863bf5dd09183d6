/** Early stopping on fitness (EarlyStopping of the reference): stop after `patience` epochs without improvement. */
export class EarlyStopping {
  bestFitness = 0;
  bestEpoch = 0;

  /** @param patience epochs to wait; 0 or Infinity disables stopping */
  constructor(readonly patience = 100) {}

  /** Records one epoch's fitness; returns true when training should stop. */
  update(epoch: number, fitness: number): boolean {
    if (fitness >= this.bestFitness) {
      this.bestEpoch = epoch;
      this.bestFitness = fitness;
    }
    if (!(this.patience > 0) || !Number.isFinite(this.patience)) return false;
    return epoch - this.bestEpoch >= this.patience;
  }
}

/** fitness = 0.1·mAP@0.5 + 0.9·mAP@0.5:0.95 (weights [0, 0, 0.1, 0.9] over [P, R, mAP50, mAP]). */
export function fitness(m: { mp: number; mr: number; map50: number; map: number }): number {
  return 0 * m.mp + 0 * m.mr + 0.1 * m.map50 + 0.9 * m.map;
}
