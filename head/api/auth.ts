/**
 * REST authentication and roles. Every route declares `config.role`: 'open' (healthz, the
 * OpenAPI document, the login link), 'viewer', 'submitter' or 'admin'; a route that declares
 * nothing needs admin, so a forgotten declaration fails closed. A bearer token (parsed by
 * @fastify/bearer-auth) or the dashboard's HttpOnly session cookie names the caller; a missing
 * or bad one is 401 FLO_UNAUTHENTICATED, a too-small role 403 FLO_FORBIDDEN. With auth off
 * (`--insecure`) every caller is an anonymous admin.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import bearerAuth from '@fastify/bearer-auth';
import cookie from '@fastify/cookie';
import { FlotillaError } from '../../shared/errors.ts';
import type { RestRole, TokenInfo } from '../../shared/schemas/token.ts';
import type { TokenStore } from '../auth/token-store.ts';

export type RouteRole = RestRole | 'open';
export const SESSION_COOKIE = 'flotilla_session';

const RANK: Record<RestRole, number> = { viewer: 1, submitter: 2, admin: 3 };

/** Who is calling: a token's record, or the anonymous admin of a head without auth. */
export type Caller = TokenInfo | { id: 'anonymous'; role: 'admin' };

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    role?: RouteRole;
  }
}

export function callerCan(c: Caller, role: RestRole): boolean {
  return c.role !== 'worker' && RANK[c.role] >= RANK[role];
}

export async function registerAuth(app: FastifyInstance, tokens: TokenStore | undefined): Promise<void> {
  await app.register(cookie);
  app.decorateRequest('caller', null as never); // set by the hook below on every request
  if (!tokens) {
    app.addHook('onRequest', async (req) => {
      req.caller = { id: 'anonymous', role: 'admin' };
    });
    return;
  }
  await app.register(bearerAuth, {
    keys: [],
    addHook: false,
    verifyErrorLogLevel: '',
    auth: async (key: string, req: FastifyRequest) => {
      const info = await tokens.verify(key);
      if (info) req.caller = info;
      return info !== null;
    },
  });
  const verifyBearer = app.verifyBearerAuth!;
  const bearer = (req: FastifyRequest, reply: Parameters<typeof verifyBearer>[1]) =>
    new Promise<void>((resolve, reject) => verifyBearer(req, reply, (err?: Error) => (err ? reject(err) : resolve())));
  app.addHook('onRequest', async (req, reply) => {
    // the dashboard's static files hold no data (the page then calls the API with its cookie)
    const url = req.routeOptions.url ?? '';
    const need: RouteRole = url.startsWith('/ui/') ? 'open' : (req.routeOptions.config?.role ?? 'admin');
    if (need === 'open') return;
    const session = req.cookies?.[SESSION_COOKIE];
    if (!req.headers.authorization && session) {
      const info = await tokens.verify(session);
      if (!info) throw new FlotillaError('FLO_UNAUTHENTICATED', 'the session has expired or was revoked: log in again');
      req.caller = info;
    } else {
      try {
        await bearer(req, reply);
      } catch (e) {
        reply.code(200); // the plugin set 401/500; the error handler sets the status from the catalogue
        if (e instanceof FlotillaError) throw e; // e.g. 503: tokens cannot be read while cut off from NATS
        throw new FlotillaError(
          'FLO_UNAUTHENTICATED',
          `${(e as Error).message || 'invalid token'}: send "Authorization: Bearer <token>" (flotilla token create)`,
        );
      }
    }
    if (!callerCan(req.caller, need)) {
      throw new FlotillaError('FLO_FORBIDDEN', `this route needs the ${need} role; the token '${req.caller.id}' is ${req.caller.role}`);
    }
  });
}

/** A submitter may change only the jobs it submitted; admins any. */
export function assertOwner(c: Caller, owner: string | undefined, jobId: string): void {
  if (c.role === 'admin') return;
  if (owner !== c.id) throw new FlotillaError('FLO_FORBIDDEN', `job ${jobId} belongs to another submitter`);
}
