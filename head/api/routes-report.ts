/**
 * GET /v1/jobs/:id/report: the job's faults (injected, detected, recovered, steps lost,
 * restarts) and invariants, computed from its whole event stream and record
 * (head/report/build.ts); the events are kept between calls (report/event-cache.ts), so a
 * report asked for again reads only the new ones. `?baseline=ID` compares the final weights' digest with another job's
 * (a fault-free run of the same spec).
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { JobReport, ReportQuery } from '../../shared/schemas/report.ts';
import { assertFound } from '../controller.ts';
import { buildReport } from '../report/build.ts';
import { ReportEvents } from '../report/event-cache.ts';
import type { ApiContext } from './context.ts';
import { ErrorReply } from './errors.ts';

export function reportRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const cache = new ReportEvents((jobId, opts) => ctx.events(jobId, opts));
  r.get(
    '/v1/jobs/:id/report',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          "A job's fault report: per fault when it was injected, detected and recovered from, steps lost, restarts; the job's invariants",
        tags: ['jobs'],
        params: z.object({ id: Id }),
        querystring: ReportQuery,
        response: { 200: JobReport, 404: ErrorReply },
      },
    },
    async (req) => {
      const job = assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id);
      const baseline = req.query.baseline === undefined ? null : assertFound(ctx.ctl.jobs.get(req.query.baseline), req.query.baseline);
      return buildReport(job, await cache.of(job.id), baseline);
    },
  );
}
