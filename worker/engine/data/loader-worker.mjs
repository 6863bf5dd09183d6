// Entry of a loader pool thread: registers the TypeScript loader (tsx), then runs loader-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./loader-worker.ts');
