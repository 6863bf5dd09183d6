/**
 * The REST API, built by a factory: `build({ ctx })` returns a ready fastify app (not
 * listening) whose bodies, params and queries are validated by the zod schemas of shared/, and
 * whose OpenAPI document is served at /openapi.json. Tests drive it through `app.inject()`.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { serializerCompiler, validatorCompiler, jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { BuildOptions } from './context.ts';
import { handleError } from './errors.ts';
import { jobRoutes } from './routes-jobs.ts';
import { studyRoutes } from './routes-studies.ts';
import { faultRoutes } from './routes-faults.ts';
import { eventRoutes } from './routes-events.ts';
import { reportRoutes } from './routes-report.ts';
import { systemRoutes } from './routes-system.ts';
import { tokenRoutes } from './routes-tokens.ts';
import { detectRoutes } from './routes-detect.ts';
import { registerAuth } from './auth.ts';
import { registerJsonBody } from './json-body.ts';
import { dashboardRoutes } from '../dashboard/plugin.ts';

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.log ? { loggerInstance: opts.log } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1 << 20,
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  registerJsonBody(app);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Flotilla head', description: 'Distributed YOLOv5 training on actors over NATS', version: '0.1.0' },
      tags: [{ name: 'jobs' }, { name: 'studies' }, { name: 'workers' }, { name: 'system' }, { name: 'tokens' }],
      // every route but /healthz, /openapi.json and /login takes a token (roles: admin, submitter, viewer)
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'flotilla token create --role admin|submitter|viewer' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await registerAuth(app, opts.ctx.tokens);
  jobRoutes(app, opts.ctx);
  studyRoutes(app, opts.ctx);
  faultRoutes(app, opts.ctx);
  tokenRoutes(app, opts.ctx);
  eventRoutes(app, opts.ctx);
  reportRoutes(app, opts.ctx);
  systemRoutes(app, opts.ctx);
  detectRoutes(app, opts.ctx);
  await dashboardRoutes(app);
  await app.ready();
  return app;
}
