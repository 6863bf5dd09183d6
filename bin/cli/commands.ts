/** The command table: one line per command, each module owned by its feature. */
export const COMMAND_TABLE: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  worker: { summary: 'run a worker node agent (spawns trainer actors)', load: () => import('./worker.ts') },
  synth: { summary: 'write the deterministic synthetic detection set (YOLO format)', load: () => import('./synth.ts') },
  model: { summary: 'build a YOLOv5 model from its yaml and print its summary (layers, parameters, GFLOPs)', load: () => import('./model.ts') },
};
