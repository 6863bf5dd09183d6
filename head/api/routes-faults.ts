/** POST /v1/jobs/:id/faults: inject faults into a running job (admin). */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { FaultRequest, FaultSpec, FaultsArmed } from '../../shared/schemas/fault.ts';
import { FlotillaError } from '../../shared/errors.ts';
import type { ApiContext } from './context.ts';
import { ErrorReply } from './errors.ts';

const Batch = z.object({ faults: z.array(FaultSpec).min(1).max(100) }).strict();

/**
 * The body checked against the branch it is meant for (a batch when it has `faults`, else one
 * fault), so a 400 names the field at fault instead of the union's "invalid input".
 */
function checkBody(body: unknown): void {
  const batch = typeof body === 'object' && body !== null && 'faults' in body;
  const r = (batch ? Batch : FaultSpec).safeParse(body);
  if (r.success) return;
  const details = r.error.issues.map((i) => ({ field: ['body', ...i.path.map(String)].join('.'), message: i.message }));
  throw new FlotillaError('FLO_VALIDATION', `invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, { details });
}

export function faultRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    '/v1/jobs/:id/faults',
    {
      config: { role: 'admin' },
      preValidation: async (req) => checkBody(req.body),
      schema: {
        summary:
          'Inject faults into a running job (one FaultSpec or {faults: [...]}); each is armed with an id and reported as fault events',
        tags: ['jobs'],
        params: z.object({ id: Id }),
        body: FaultRequest,
        response: { 201: FaultsArmed, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply, 503: ErrorReply },
      },
    },
    async (req, reply) => {
      const many = 'faults' in req.body;
      const specs = 'faults' in req.body ? req.body.faults : [req.body];
      const ids = await ctx.faults.arm(req.params.id, specs, (i) => (many ? `body.faults.${i}` : 'body'));
      return reply.status(201).send({ jobId: req.params.id, fault_ids: ids });
    },
  );
}
