/**
 * The nats-server versions Flotilla runs on. The minimum is 2.10.0: nats-server 2.9.x (Debian
 * bookworm ships 2.9.10) panics on every restart of a cluster server once a stream has been sealed
 * ("stream configuration update can not unseal a sealed stream", then a nil pointer dereference
 * in processClusterCreateStream), and the head seals each ended job's object stores. 2.10.27
 * (Debian trixie) is the release the tests run on (deploy/install-nats.sh installs it).
 * Each client checks the server it connects to (the version comes with the server's INFO).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { FlotillaError } from './errors.ts';

export const MIN_NATS_SERVER = '2.10.0';
export const TESTED_NATS_SERVER = '2.10.27';

/** [major, minor, patch] of "v2.10.27", "2.10.27-beta.1", "nats-server: v2.9.10"; undefined when none. */
export function parseVersion(v: string | undefined): [number, number, number] | undefined {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether `v` is at least `min` (an unparsable version is not). */
export function atLeast(v: string | undefined, min = MIN_NATS_SERVER): boolean {
  const a = parseVersion(v);
  const b = parseVersion(min)!;
  if (!a) return false;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

/** The one message for a server that is too old (or says no version). */
export function tooOldMessage(version: string | undefined, where: string): string {
  return (
    `nats-server ${version ?? '(no version)'} at ${where} is older than ${MIN_NATS_SERVER}, the oldest Flotilla runs on ` +
    `(2.9.x cluster servers panic on restart once a job's object stores are sealed). ` +
    `Install ${TESTED_NATS_SERVER}: bash deploy/install-nats.sh (see docs/deploy-cluster.md)`
  );
}

/** Throws FLO_CONFIG when `version` is older than the minimum. */
export function checkServerVersion(version: string | undefined, where: string): void {
  if (!atLeast(version)) throw new FlotillaError('FLO_CONFIG', tooOldMessage(version, where));
}

/** Refuses the server `nc` is connected to when it is too old (closing `nc` first). */
export async function assertServerVersion(nc: NatsConnection): Promise<void> {
  const version = nc.info?.version;
  if (atLeast(version)) return;
  const where = nc.getServer();
  await nc.close().catch(() => undefined);
  throw new FlotillaError('FLO_CONFIG', tooOldMessage(version, where));
}
