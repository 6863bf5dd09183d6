/**
 * GET /v1/jobs/:id/events: server-sent events from the job's stream. Each SSE `id` is the
 * stream sequence; resume with `?from=<id+1>` or a `Last-Event-ID` header. With `follow`
 * (default) the response stays open until the job reaches a terminal state; a job already
 * terminal replays what is stored and ends. Artifacts are streamed from the object store.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { assertFound } from '../controller.ts';
import { isTerminal } from '../state/transitions.ts';
import type { ApiContext } from './context.ts';

/** Pictures are served as what they are (a browser shows them); everything else as bytes. */
const PICTURE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg' };
export function artifactContentType(name: string): string {
  return PICTURE_TYPES[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream';
}

const EventsQuery = z.object({
  from: z.coerce.number().int().positive().optional(),
  follow: z.enum(['true', 'false', '1', '0']).optional(),
});

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/jobs/:id/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Job events as server-sent events (state, log, metric, checkpoint, artifact), replayable from a stream offset',
        tags: ['jobs'],
        params: z.object({ id: Id }),
        querystring: EventsQuery,
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      const job = assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id);
      const lastId = Number(req.headers['last-event-id']);
      const from = req.query.from ?? (Number.isInteger(lastId) && lastId > 0 ? lastId + 1 : undefined);
      const follow = (req.query.follow ?? 'true') === 'true' || req.query.follow === '1';
      const ac = new AbortController();
      req.raw.once('close', () => ac.abort());
      const events = ctx.events(job.id, { from, follow: follow && !isTerminal(job.state), signal: ac.signal });
      async function* sse(): AsyncGenerator<string> {
        yield ': flotilla events\n\n';
        for await (const { seq, event } of events) {
          yield `id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
          if (event.type === 'state' && isTerminal(event.state)) break;
        }
      }
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no');
      return reply.send(Readable.from(sse()));
    },
  );

  r.get(
    '/v1/jobs/:id/artifacts',
    {
      config: { role: 'viewer' },
      schema: { summary: "List a job's artifacts", tags: ['jobs'], params: z.object({ id: Id }) },
    },
    async (req) => {
      assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id);
      return { artifacts: await ctx.artifactNames(req.params.id) };
    },
  );

  r.get(
    '/v1/jobs/:id/artifacts/:name',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Download an artifact',
        tags: ['jobs'],
        params: z.object({
          id: Id,
          name: z
            .string()
            .min(1)
            .max(256)
            .regex(/^[^/]+$/, 'no slashes'),
        }),
        produces: ['application/octet-stream', 'image/png', 'image/jpeg'],
      },
    },
    async (req, reply) => {
      assertFound(ctx.ctl.jobs.get(req.params.id), req.params.id);
      const a = await ctx.artifact(req.params.id, req.params.name);
      if (!a) throw new FlotillaError('FLO_NOT_FOUND', `job ${req.params.id} has no artifact '${req.params.name}'`);
      reply
        .header('content-type', artifactContentType(req.params.name))
        .header('content-length', a.size)
        .header('x-content-type-options', 'nosniff');
      return reply.send(Readable.fromWeb(a.body as import('node:stream/web').ReadableStream<Uint8Array>));
    },
  );
}
