/**
 * Entry of a worker node agent: `node --import tsx worker/agent/main.ts`, configured by
 * shared/config (FLOTILLA_NATS_URL, FLOTILLA_PREFIX, FLOTILLA_NODE_ID, FLOTILLA_SLOTS). Prints
 * one line once a head accepted the registration; on SIGTERM/SIGINT it leaves (draining,
 * waits for the head to move its actors) and exits 0.
 */
import { startAgent } from './start.ts';

const started = await startAgent().catch((e: unknown) => {
  console.error(`flotilla worker: ${(e as Error).message}`);
  process.exit(1);
});
const code = await started.done;
process.exit(code);
