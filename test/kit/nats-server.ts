/**
 * Test kit: real `nats-server` processes on free ports (never a fake). One server or a
 * 3-server JetStream cluster; each has its own temporary store dir and is torn down by stop().
 * The launcher itself is the production one in head/embedded-nats.ts (one copy).
 */
import { randomBytes } from 'node:crypto';

export {
  type NatsServer, type StartOptions, type NatsCluster,
  natsServerBinary, freePort, startNatsServer, startNatsCluster,
} from '../../head/embedded-nats.ts';

/** A unique, NATS-safe name for a test's subject prefix and bucket names. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}_${randomBytes(4).toString('hex')}`;
}
