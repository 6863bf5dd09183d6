// Entry of the head's detect thread: registers the TypeScript loader (tsx), then runs thread.ts.
// tfjs is loaded here, in this thread, when the first POST /v1/detect arrives; never by the head itself.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
