/**
 * Waits until JetStream streams have a leader and every replica current and online: what a
 * rolling restart waits for before it takes the next server down (killing the next one while
 * the last one still replays its log is losing two of three at once, not one).
 */
import type { JetStreamManager } from '@nats-io/jetstream';

/** `stream` (or, without one, every stream of the account) led, with all `replicas` current; gives up after `limitMs`. */
export async function caughtUp(jsm: JetStreamManager, replicas: number, stream?: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let seen = 'no answer';
  while (Date.now() < deadline) {
    try {
      const names: string[] = [];
      if (stream) names.push(stream);
      else for await (const s of jsm.streams.list()) names.push(s.config.name);
      const behind: string[] = [];
      for (const name of names) {
        const c = (await jsm.streams.info(name)).cluster;
        const peers = c?.replicas ?? [];
        if (!c?.leader || peers.length !== replicas - 1 || !peers.every((p) => p.current && !p.offline)) {
          behind.push(
            `${name}: leader ${c?.leader ?? 'none'}, peers ${peers.map((p) => `${p.name}:${p.current ? 'current' : 'behind'}${p.offline ? ':offline' : ''}`).join(' ')}`,
          );
        }
      }
      if (behind.length === 0) return;
      seen = behind.join('; ');
    } catch (e) {
      seen = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`streams did not catch up within ${limitMs} ms (${seen})`);
}
