/** /v1/jobs: submit, list, get, cancel, change the worker count. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { JobSpec, JobPatch, JobRecord, JobState } from '../../shared/schemas/job.ts';
import { assertFound } from '../controller.ts';
import type { ApiContext } from './context.ts';

const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });
const IdParams = z.object({ id: Id });

export function jobRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/v1/jobs', {
    schema: { summary: 'Submit a training job', tags: ['jobs'], body: JobSpec, response: { 201: JobRecord, 400: ErrorReply } },
  }, async (req, reply) => reply.status(201).send(await ctx.ctl.submit(req.body)));

  r.get('/v1/jobs', {
    schema: {
      summary: 'List jobs, newest first', tags: ['jobs'],
      querystring: z.object({ state: JobState.optional(), limit: z.coerce.number().int().positive().max(10_000).default(1000) }),
      response: { 200: z.object({ jobs: z.array(JobRecord) }) },
    },
  }, async (req) => {
    const jobs = ctx.ctl.jobs.list().filter((j) => !req.query.state || j.state === req.query.state).sort((a, b) => b.seq - a.seq);
    return { jobs: jobs.slice(0, req.query.limit) };
  });

  r.get('/v1/jobs/:id', {
    schema: { summary: 'Get one job', tags: ['jobs'], params: IdParams, response: { 200: JobRecord, 404: ErrorReply } },
  }, async (req) => assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id));

  r.post('/v1/jobs/:id/cancel', {
    schema: { summary: 'Cancel a pending, running or recovering job', tags: ['jobs'], params: IdParams, response: { 200: JobRecord, 404: ErrorReply, 409: ErrorReply } },
  }, async (req) => ctx.ctl.cancel(req.params.id));

  r.patch('/v1/jobs/:id', {
    schema: {
      summary: 'Change the number of workers (a running gang restarts at the new size from its checkpoint)', tags: ['jobs'],
      params: IdParams, body: JobPatch, response: { 200: JobRecord, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply },
    },
  }, async (req) => ctx.ctl.patch(req.params.id, req.body.workers));
}
