/**
 * The partition fault's cut (shared/schemas/fault.ts `partition`): every NATS connection of this
 * process has its TCP socket destroyed and may not dial again until the cut ends, so nats.js
 * sees a real lost connection, reconnects over and over and gets refused, and comes back with
 * its subscriptions once the cut is over. No root, no firewall: it works by wrapping the
 * node transport's connect (natsOptions installs it, so every Flotilla connection is covered).
 * The collective's raw TCP lanes are not nats.js connections and are not cut (they are only
 * used on servers without auth).
 */
import { NodeTransport } from '@nats-io/transport-node/lib/node_transport.js';

interface Dialer {
  socket?: { destroy(): void };
  closed(): Promise<unknown>;
}

let installed = false;
let cutUntil = 0;
const live = new Set<Dialer>();

/** Idempotent: wraps NodeTransport.connect so cut connections are tracked and refused. */
export function installCutLayer(): void {
  if (installed) return;
  installed = true;
  const proto = NodeTransport.prototype as unknown as { connect(this: Dialer, ...a: unknown[]): Promise<void> };
  const connect = proto.connect;
  proto.connect = async function (this: Dialer, ...args: unknown[]): Promise<void> {
    if (Date.now() < cutUntil)
      throw new Error(`connection refused: cut off from NATS by a partition fault for ${cutUntil - Date.now()} ms more`);
    await connect.apply(this, args);
    live.add(this);
    void this.closed().then(
      () => live.delete(this),
      () => live.delete(this),
    );
  };
}

/** Cuts every NATS connection of this process for `ms`; returns how many were open. */
export function cutConnections(ms: number): number {
  cutUntil = Math.max(cutUntil, Date.now() + ms);
  const n = live.size;
  for (const t of [...live]) {
    live.delete(t);
    t.socket?.destroy();
  }
  return n;
}

/** NATS connections of this process whose transport has not closed yet. */
export function openConnections(): number {
  return live.size;
}

/** Whether a cut is in force now. */
export function isCut(): boolean {
  return Date.now() < cutUntil;
}
