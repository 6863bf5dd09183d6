/** Workers, health, Prometheus metrics and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkerList } from '../../shared/schemas/node.ts';
import { capacity } from '../scheduler/plan.ts';
import type { ApiContext } from './context.ts';

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/workers',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Live worker nodes with their free slots and GPUs', tags: ['workers'], response: { 200: WorkerList } },
    },
    async () => {
      const nodes = ctx.ctl.nodes.list();
      const caps = new Map(capacity(ctx.ctl.jobs.list(), nodes).map((c) => [c.nodeId, c]));
      const now = Date.now();
      return {
        workers: nodes.map((n) => {
          const c = caps.get(n.record.nodeId);
          const gpus = n.record.gpus?.length ? { gpus_free: c?.gpus ?? [] } : {};
          return { ...n.record, free: c?.free ?? 0, alive_ms_ago: now - n.heardAt, ...gpus };
        }),
      };
    },
  );

  r.get(
    '/healthz',
    {
      config: { role: 'open' },
      schema: { summary: 'Liveness of the head and its NATS connection', tags: ['system'] },
    },
    async (_req, reply) => {
      const h = ctx.health();
      return reply.status(h.ok ? 200 : 503).send(h);
    },
  );

  r.get(
    '/metrics',
    { config: { role: 'viewer' }, schema: { summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'] } },
    async (_req, reply) => reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics()),
  );

  app.get('/openapi.json', { config: { role: 'open' }, schema: { hide: true } as Record<string, unknown> }, async () => app.swagger());
}
