/**
 * One error handler for the REST API: schema failures become 400 FLO_VALIDATION naming every
 * field at fault (`body.workers: ...`), FlotillaErrors keep their catalogue status (a retryable
 * 5xx of the catalogue is logged at warn without a stack, any other 5xx at error), fastify's
 * own client errors (bad JSON, wrong content type) keep their 4xx as FLO_VALIDATION, and
 * anything else is a logged 500 FLO_INTERNAL.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FlotillaError, type WireError } from '../../shared/errors.ts';

export interface FieldIssue {
  field: string;
  message: string;
}

/** The error body every route declares in its OpenAPI responses. */
export const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });

export function errorBody(err: WireError): { error: WireError } {
  return { error: err };
}

export function handleError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'body';
    const issues: FieldIssue[] = err.validation.map((v) => {
      const path = v.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
      return { field: path ? `${where}.${path}` : where, message: v.message ?? 'invalid' };
    });
    const message = `invalid request: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`;
    return reply.status(400).send(errorBody({ code: 'FLO_VALIDATION', message, details: issues }));
  }
  if (err instanceof FlotillaError) {
    // a retryable refusal of the catalogue (503 FLO_UNAVAILABLE while cut off from NATS, no
    // capacity, a timeout) is expected, not a fault of the server: one line at warn, no stack
    if (err.status >= 500 && err.retryable)
      req.log.warn({ code: err.code, reason: err.message, method: req.method, url: req.url }, 'request refused');
    else if (err.status >= 500) req.log.error({ err }, 'request failed');
    return reply.status(err.status).send(errorBody(err.toWire()));
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    const field = err.code?.startsWith('FST_ERR_CTP') ? 'body' : 'request';
    return reply
      .status(status)
      .send(errorBody({ code: 'FLO_VALIDATION', message: `${field}: ${err.message}`, details: [{ field, message: err.message }] }));
  }
  req.log.error({ err }, 'request failed');
  return reply.status(500).send(errorBody({ code: 'FLO_INTERNAL', message: err.message }));
}
