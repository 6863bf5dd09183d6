/**
 * Test kit: real `nats-server` processes on free ports (never a fake). One server or a
 * 3-server JetStream cluster; each has its own temporary store dir and is torn down by stop().
 * The launcher itself is the production one in head/embedded-nats.ts (one copy).
 */
import { randomBytes } from 'node:crypto';
import { startNatsServer, type NatsServer } from '../../head/embedded-nats.ts';

export {
  type NatsServer,
  type StartOptions,
  type NatsCluster,
  natsServerBinary,
  freePort,
  startNatsServer,
  startNatsCluster,
} from '../../head/embedded-nats.ts';

/** A unique, NATS-safe name for a test's subject prefix and bucket names. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}_${randomBytes(4).toString('hex')}`;
}

/** A nats-server that a test SIGKILLs and starts again on the same port and store dir. */
export interface RestartableNats extends Pick<NatsServer, 'auth' | 'options'> {
  readonly url: string;
  readonly port: number;
  /** SIGKILL, keeping the store */
  kill(): Promise<void>;
  /** starts it again (same port, same JetStream store) */
  restart(): Promise<void>;
}

/**
 * Starts a restartable nats-server (every NatsServer can `kill()` and `restart()` on its own
 * port and store); it and its store dir are removed at teardown.
 */
export async function startRestartableNats(t: { teardown(fn: () => unknown): void }): Promise<RestartableNats> {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  return srv;
}
