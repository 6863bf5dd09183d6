/**
 * Entry of a head process: `node --import tsx head/main.ts` (what `flotilla head` runs).
 * Config from shared/config: FLOTILLA_CONFIG file, FLOTILLA_NATS_URL, FLOTILLA_PREFIX,
 * FLOTILLA_HEAD_HOST, FLOTILLA_HEAD_PORT, FLOTILLA_DEAD_AFTER_MS. Exits 0 after SIGTERM/SIGINT.
 */
import { runHead } from './run.ts';

const code = await runHead().catch((e: unknown) => {
  console.error(`flotilla head: ${(e as Error).message}`);
  return 1;
});
process.exit(code);
