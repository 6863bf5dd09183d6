/** /v1/jobs: submit, list, get, cancel, change the worker count. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { JobSpec, JobPatch, JobReply, JobList, JobState } from '../../shared/schemas/job.ts';
import { assertFound } from '../controller.ts';
import type { ApiContext } from './context.ts';
import { assertOwner } from './auth.ts';
import { checkSubmit, unschedulable } from './submit-checks.ts';
import { ErrorReply } from './errors.ts';

const IdParams = z.object({ id: Id });
export const STALE_HEADER = 'x-flotilla-stale-ms';

export function jobRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  /** Reads come from the head's memory: say how old it may be (while cut off from NATS). */
  const stale = (reply: { header(k: string, v: string): unknown }) => {
    const ms = ctx.staleMs();
    reply.header(STALE_HEADER, String(ms));
    return ms;
  };
  r.post(
    '/v1/jobs',
    {
      config: { role: 'submitter' },
      schema: {
        summary: 'Submit a training job',
        tags: ['jobs'],
        body: JobSpec,
        response: { 201: JobReply, 400: ErrorReply, 503: ErrorReply },
      },
    },
    async (req, reply) => {
      checkSubmit(req.body, ctx.submitLimits);
      return reply
        .status(201)
        .send({ ...(await ctx.ctl.submit(req.body, req.caller.id, unschedulable(req.body, ctx.submitLimits))), stale_ms: 0 });
    },
  );

  r.get(
    '/v1/jobs',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'List jobs, newest first',
        tags: ['jobs'],
        querystring: z.object({ state: JobState.optional(), limit: z.coerce.number().int().positive().max(10_000).default(1000) }),
        response: { 200: JobList },
      },
    },
    async (req, reply) => {
      const staleMs = stale(reply);
      const jobs = ctx.ctl.jobs
        .list()
        .filter((j) => !req.query.state || j.state === req.query.state)
        .sort((a, b) => b.seq - a.seq);
      return { jobs: jobs.slice(0, req.query.limit).map((j) => ({ ...j, stale_ms: staleMs })), stale_ms: staleMs };
    },
  );

  r.get(
    '/v1/jobs/:id',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Get one job', tags: ['jobs'], params: IdParams, response: { 200: JobReply, 404: ErrorReply } },
    },
    async (req, reply) => ({ ...assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id), stale_ms: stale(reply) }),
  );

  r.post(
    '/v1/jobs/:id/cancel',
    {
      config: { role: 'submitter' },
      schema: {
        summary: 'Cancel a pending, running or recovering job',
        tags: ['jobs'],
        params: IdParams,
        response: { 200: JobReply, 404: ErrorReply, 409: ErrorReply, 503: ErrorReply },
      },
    },
    async (req) => {
      assertOwner(req.caller, assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id).owner, req.params.id);
      return { ...(await ctx.ctl.cancel(req.params.id)), stale_ms: 0 };
    },
  );

  r.patch(
    '/v1/jobs/:id',
    {
      config: { role: 'submitter' },
      schema: {
        summary: 'Change the number of workers (a running gang restarts at the new size from its checkpoint)',
        tags: ['jobs'],
        params: IdParams,
        body: JobPatch,
        response: { 200: JobReply, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply, 503: ErrorReply },
      },
    },
    async (req) => {
      assertOwner(req.caller, assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id).owner, req.params.id);
      return { ...(await ctx.ctl.patch(req.params.id, req.body.workers)), stale_ms: 0 };
    },
  );
}
