/** /v1/studies: hyperparameter studies (docs/tune.md): submit, list, get, cancel, artifacts. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Id } from '../../shared/schemas/common.ts';
import { StudyList, StudyRecord, StudySpec } from '../../shared/schemas/study.ts';
import { FlotillaError } from '../../shared/errors.ts';
import type { ApiContext } from './context.ts';
import { assertOwner } from './auth.ts';
import { checkSubmit } from './submit-checks.ts';
import { ErrorReply } from './errors.ts';
import { STUDY_ARTIFACTS, studyArtifact } from '../tune/artifacts.ts';

const IdParams = z.object({ id: Id });

/** The base job passes the same checks as a submitted job, its fields named under body.base. */
function checkBase(spec: StudySpec, ctx: ApiContext): void {
  try {
    checkSubmit(spec.base, ctx.submitLimits);
  } catch (e) {
    if (!(e instanceof FlotillaError)) throw e;
    const details = ((e.details as Array<{ field: string; message: string }> | undefined) ?? []).map((d) => ({
      ...d,
      field: d.field.replace(/^body\./, 'body.base.'),
    }));
    throw new FlotillaError('FLO_VALIDATION', `invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, { details });
  }
}

export function studyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const found = (id: string): StudyRecord => {
    const st = ctx.studies.store.get(id);
    if (!st) throw new FlotillaError('FLO_NOT_FOUND', `no study ${id}`);
    return st;
  };

  r.post(
    '/v1/studies',
    {
      config: { role: 'submitter' },
      schema: {
        summary: 'Start a hyperparameter study (trials run as jobs)',
        tags: ['studies'],
        body: StudySpec,
        response: { 201: StudyRecord, 400: ErrorReply, 503: ErrorReply },
      },
    },
    async (req, reply) => {
      checkBase(req.body, ctx);
      return reply.status(201).send(await ctx.studies.runner.create(req.body, req.caller.id));
    },
  );

  r.get(
    '/v1/studies',
    {
      config: { role: 'viewer' },
      schema: { summary: 'List studies, newest first', tags: ['studies'], response: { 200: StudyList } },
    },
    async () => ({ studies: ctx.studies.store.list().sort((a, b) => b.created_at.localeCompare(a.created_at)) }),
  );

  r.get(
    '/v1/studies/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Get one study and its trials',
        tags: ['studies'],
        params: IdParams,
        response: { 200: StudyRecord, 404: ErrorReply },
      },
    },
    async (req) => found(req.params.id),
  );

  r.post(
    '/v1/studies/:id/cancel',
    {
      config: { role: 'submitter' },
      schema: {
        summary: 'Cancel a study and its running trials',
        tags: ['studies'],
        params: IdParams,
        response: { 200: StudyRecord, 403: ErrorReply, 404: ErrorReply, 503: ErrorReply },
      },
    },
    async (req) => {
      assertOwner(req.caller, found(req.params.id).owner, req.params.id);
      return ctx.studies.runner.cancel(req.params.id);
    },
  );

  r.get(
    '/v1/studies/:id/artifacts',
    {
      config: { role: 'viewer' },
      schema: { summary: "List a study's artifacts", tags: ['studies'], params: IdParams },
    },
    async (req) => {
      const st = found(req.params.id);
      return {
        artifacts: STUDY_ARTIFACTS.flatMap((name) => {
          const a = studyArtifact(st, name);
          return a === null ? [] : [{ name, bytes: Buffer.byteLength(a) }];
        }),
      };
    },
  );

  r.get(
    '/v1/studies/:id/artifacts/:name',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "Download a study's artifact (evolve.csv, hyp_evolve.yaml, evolve.svg)",
        tags: ['studies'],
        params: z.object({ id: Id, name: z.enum(STUDY_ARTIFACTS) }),
        produces: ['text/csv', 'application/yaml', 'image/svg+xml'],
      },
    },
    async (req, reply) => {
      const a = studyArtifact(found(req.params.id), req.params.name);
      if (a === null)
        throw new FlotillaError('FLO_NOT_FOUND', `study ${req.params.id} has no ${req.params.name} yet: no trial has a fitness`);
      const type = req.params.name.endsWith('.csv') ? 'text/csv' : req.params.name.endsWith('.svg') ? 'image/svg+xml' : 'application/yaml';
      return reply.header('content-type', `${type}; charset=utf-8`).header('x-content-type-options', 'nosniff').send(a);
    },
  );
}
