/**
 * Fault reports from nodes: requests on `nodeFault(nodeId)` (only that node may publish there,
 * so the subject names the sender), each a FaultReport (the FaultReportEndpoint of shared/endpoints.ts), answered once the
 * head has recorded it and published its `fault` event. A malformed one gets a FLO_VALIDATION
 * reply and changes nothing.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import { nodeOfSubject, type Subjects } from '../../shared/subjects.ts';
import { serve } from '../../shared/endpoint.ts';
import { FaultReportEndpoint } from '../../shared/endpoints.ts';
import type { FaultDirector } from './director.ts';

export function serveFaultReports(nc: NatsConnection, s: Subjects, director: FaultDirector, log: Logger): Subscription {
  return serve(nc, FaultReportEndpoint, s.allNodeFault, async (r, { msg }) => {
    const sender = nodeOfSubject(msg.subject);
    try {
      await director.onReport(r, sender);
    } catch (e) {
      log.warn({ node: sender, job: r.jobId, fault: r.fault_id, phase: r.phase, err: (e as Error).message }, 'fault report refused');
      throw e;
    }
  });
}
