/**
 * Opens a rank's data lanes. Raw lanes go to the main connection's current server (the one it
 * reached, so a live one), then to each further candidate in `dataServers`; when none takes
 * them (auth without `laneSecurity` creds, a certificate that does not verify, an address we
 * cannot reach directly, a server that just died) the
 * rank uses nats.js connections from `connect`, which try every server URL themselves; without
 * `connect`, the main connection. Every lane reports its first loss to `onLost`; why each raw
 * candidate failed goes to `why` (the group reports it as `laneFallback`).
 */
import { NatsLane, type Lane } from './lane.ts';
import { DEFAULT_LANES, DEFAULT_TIMEOUT_MS, RAW_CONNECT_TIMEOUT_MS, type GroupOptions } from './options.ts';
import { connectRawLane } from './raw-lane.ts';
import type { RawLaneSecurity } from './raw-handshake.ts';

const noop = (): void => {};

async function closeAll(lanes: Lane[]): Promise<void> {
  await Promise.all(lanes.map((l) => l.close().catch(noop)));
}

/** "host:port" of each candidate server for raw lanes, the main connection's first, no repeats. */
export function rawCandidates(o: Pick<GroupOptions, 'dataServer' | 'dataServers' | 'nc'>): string[] {
  const first = o.dataServer ?? o.nc.getServer();
  const all = [first, ...(o.dataServers ?? [])].filter((s): s is string => Boolean(s)).map(hostPort);
  return [...new Set(all)];
}

/** `nats://host:port` (or `host:port`) as `host:port`. */
export function hostPort(url: string): string {
  return url
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .replace(/^.*@/, '');
}

async function rawLanes(
  server: string,
  count: number,
  timeoutMs: number,
  sec: RawLaneSecurity,
  onLost: (err: Error) => void,
  why: string[],
): Promise<Lane[] | undefined> {
  const opened: Lane[] = [];
  try {
    for (let i = 0; i < count; i++) {
      opened.push(
        await connectRawLane({ ...sec, server, timeoutMs, onClosed: (err) => onLost(err ?? new Error(`raw lane to ${server} closed`)) }),
      );
    }
    return opened;
  } catch (e) {
    why.push(`${server}: ${(e as Error).message}`);
    await closeAll(opened);
    return undefined;
  }
}

export async function openLanes(o: GroupOptions, onLost: (err: Error) => void, why: string[] = []): Promise<Lane[]> {
  if (o.worldSize === 1) return [new NatsLane(o.nc, false)];
  if ((o.laneTransport ?? 'raw') === 'raw') {
    const lanes = await openRawLanes(o, onLost, why);
    if (lanes) return lanes;
  }
  return openNatsLanes(o, onLost);
}

/** Raw lanes on the first candidate server that takes them all (`last`, the one lanes were just lost on, is tried last), or undefined (why each failed: `why`). */
export async function openRawLanes(
  o: GroupOptions,
  onLost: (err: Error) => void,
  why: string[] = [],
  last?: string,
): Promise<Lane[] | undefined> {
  const count = Math.max(1, o.lanes ?? DEFAULT_LANES);
  const timeoutMs = Math.min(RAW_CONNECT_TIMEOUT_MS, o.joinTimeoutMs ?? o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const all = rawCandidates(o);
  const order = last && all.length > 1 ? [...all.filter((s) => s !== last), ...all.filter((s) => s === last)] : all;
  for (const server of order) {
    const lanes = await rawLanes(server, count, timeoutMs, o.laneSecurity ?? {}, onLost, why);
    if (lanes) return lanes;
  }
  return undefined;
}

/** nats.js lanes: connections from `connect`, else the main connection. */
export async function openNatsLanes(o: GroupOptions, onLost: (err: Error) => void): Promise<Lane[]> {
  const count = Math.max(1, o.lanes ?? DEFAULT_LANES);
  if (!o.connect) return [new NatsLane(o.nc, false, onLost)];
  const out: Lane[] = [];
  try {
    for (let i = 0; i < count; i++) out.push(new NatsLane(await o.connect(), true, onLost));
  } catch (e) {
    await closeAll(out);
    throw e;
  }
  return out;
}
