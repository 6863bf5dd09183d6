/**
 * Fault reports from nodes: requests on `nodeFault(nodeId)` (only that node may publish there,
 * so the subject names the sender), each a FaultReport, answered with a ControlReply once the
 * head has recorded it and published its `fault` event. A malformed one gets a FLO_VALIDATION
 * reply and changes nothing.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { nodeOfSubject, type Subjects } from '../../shared/subjects.ts';
import { decode, encode } from '../../shared/codec.ts';
import { toWire } from '../../shared/errors.ts';
import { FaultReport, type ControlReply } from '../../shared/schemas/index.ts';
import type { FaultDirector } from './director.ts';

export function serveFaultReports(nc: NatsConnection, s: Subjects, director: FaultDirector, log: Logger): Subscription {
  const reply = (m: Msg, r: ControlReply) => { if (m.reply) m.respond(encode(r)); };
  return nc.subscribe(s.allNodeFault, {
    callback: (err, m) => {
      if (err) return;
      let r: FaultReport;
      try { r = decode(FaultReport, m.data); } catch (e) { reply(m, { ok: false, error: toWire(e) }); return; }
      const sender = nodeOfSubject(m.subject);
      void director.onReport(r, sender).then(
        () => reply(m, { ok: true }),
        (e: unknown) => {
          log.warn({ node: sender, job: r.jobId, fault: r.fault_id, phase: r.phase, err: (e as Error).message }, 'fault report refused');
          reply(m, { ok: false, error: toWire(e) });
        },
      );
    },
  });
}
