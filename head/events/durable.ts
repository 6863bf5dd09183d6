/**
 * Follows a stream through a durable pull consumer: each message is validated, handed to an
 * async handler, and acked only after the handler returns, so a head killed mid-way gets the
 * message again (handlers are idempotent). A message that fails validation is acked and dropped.
 */
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { z } from 'zod';
import type { Logger } from '../../shared/logger.ts';
import { withJsRetry } from '../../shared/js-retry.ts';

export interface DurableFollower {
  /** stops consuming and waits for the loop to end */
  stop(): Promise<void>;
}

export interface FollowOptions<S extends z.ZodType> {
  stream: string;
  durable: string;
  subject: string;
  schema: S;
  /** `subject`: the message's subject (it names the sender where only one identity may publish on it) */
  handler: (value: z.infer<S>, seq: number, subject: string) => Promise<void>;
  /** where a newly created durable starts (default: new messages only) */
  deliverAll?: boolean;
  log: Logger;
}

export async function followDurable<S extends z.ZodType>(
  js: JetStreamClient,
  jsm: JetStreamManager,
  o: FollowOptions<S>,
): Promise<DurableFollower> {
  const exists = () =>
    withJsRetry(`consumer info ${o.durable}`, () =>
      jsm.consumers.info(o.stream, o.durable).then(
        () => true,
        (e: Error) => {
          if (e.name === 'ConsumerNotFoundError' || /consumer not found/i.test(e.message)) return false;
          throw e;
        },
      ),
    );
  if (!(await exists())) {
    await withJsRetry(`create consumer ${o.durable}`, () =>
      jsm.consumers.add(o.stream, {
        durable_name: o.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: o.deliverAll ? DeliverPolicy.All : DeliverPolicy.New,
        filter_subject: o.subject,
        ack_wait: 10e9, // a message held by a head that died comes back after this
        max_deliver: -1,
      }),
    ).catch(async (e: unknown) => {
      if (!(await exists())) throw e;
    });
  }
  let stopped = false;
  let msgs: ConsumerMessages | undefined;
  // Short pulls (2 s, heartbeats every 1 s): when the server holding the pull dies or the
  // consumer's leader moves, nats.js notices two missed heartbeats and pulls again (~2 s,
  // not the 30 s of the default). If the iterator ends anyway, it is opened again.
  const loop = (async () => {
    while (!stopped) {
      try {
        const consumer = await withJsRetry(`open consumer ${o.durable}`, () => js.consumers.get(o.stream, o.durable), {
          attempts: 1000,
          budgetMs: 3_600_000,
        });
        msgs = await consumer.consume({ max_messages: 512, expires: 2000 });
        if (stopped) break;
        for await (const m of msgs) {
          let raw: unknown;
          try {
            raw = m.json();
          } catch {
            raw = undefined;
          }
          const r = o.schema.safeParse(raw);
          if (!r.success) {
            o.log.warn({ subject: m.subject, seq: m.seq, issues: r.error.issues.length }, 'dropped an invalid message');
            m.ack();
            continue;
          }
          try {
            await o.handler(r.data, m.seq, m.subject);
            m.ack();
          } catch (e) {
            o.log.error({ err: e, seq: m.seq }, 'handler failed; message will be redelivered');
            m.nak(1000);
          }
        }
      } catch (e) {
        if (!stopped) o.log.warn({ durable: o.durable, err: (e as Error).message }, 'consumer stopped; opening it again');
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await msgs?.close().catch(() => undefined);
      await loop.catch(() => undefined);
    },
  };
}
