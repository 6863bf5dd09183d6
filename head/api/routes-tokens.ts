/**
 * /v1/tokens (admin): create (the secret is in this reply only), list, revoke; worker tokens
 * are NATS join tokens (node-bound with `name`, a pool token without). /v1/login-links (admin)
 * makes a one-time dashboard link; GET /login?code= trades it for an HttpOnly session cookie.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { FlotillaError } from '../../shared/errors.ts';
import { TokenCreate, TokenCreated, TokenInfo, TokenList } from '../../shared/schemas/token.ts';
import type { ApiContext } from './context.ts';
import { SESSION_COOKIE } from './auth.ts';
import { ErrorReply } from './errors.ts';

const SESSION_MS = 12 * 3600_000;
export const LoginLink = z.object({ code: z.string(), path: z.string(), expires_at: z.string() });

export function tokenRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const store = () => {
    if (!ctx.tokens)
      throw new FlotillaError('FLO_INVALID_STATE', 'this head runs without authentication (--insecure): there are no tokens');
    return ctx.tokens;
  };

  r.post(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Create a token (admin, submitter, viewer; worker = a NATS join token)',
        tags: ['tokens'],
        body: TokenCreate,
        response: { 201: TokenCreated, 400: ErrorReply },
      },
    },
    async (req, reply) => {
      const { role, name, ttl_s } = req.body;
      let mint: ((id: string) => Promise<string>) | undefined;
      if (role === 'worker') {
        const m = ctx.minter;
        if (!m)
          throw new FlotillaError(
            'FLO_INVALID_STATE',
            'this head has no NATS signing key, so it cannot issue join tokens (start it with --signing-key)',
          );
        if (name && ttl_s !== undefined) {
          const message =
            "a node-bound join token (name given) is that node's identity and cannot expire: leave out name for an expiring pool token";
          throw new FlotillaError('FLO_VALIDATION', `invalid request: body.ttl_s: ${message}`, {
            details: [{ field: 'body.ttl_s', message }],
          });
        }
        mint = (id) => (name ? m.worker(name, id) : m.pool(id, ttl_s));
      }
      const { info, token } = await store().create(role, name, {
        token: mint,
        ...(ttl_s !== undefined ? { expiresInMs: ttl_s * 1000 } : {}),
      });
      return reply.status(201).send({ ...info, token });
    },
  );

  r.get(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: { summary: 'List tokens (never their secrets)', tags: ['tokens'], response: { 200: TokenList } },
    },
    async () => ({ tokens: await store().list() }),
  );

  r.delete(
    '/v1/tokens/:id',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Revoke a token',
        tags: ['tokens'],
        params: z.object({ id: z.string().regex(/^[a-f0-9]{12}$/) }),
        response: { 200: TokenInfo, 404: ErrorReply },
      },
    },
    async (req) => {
      const info = await store().revoke(req.params.id);
      if (info.role === 'worker') await ctx.onWorkerTokenRevoked?.(info.id);
      return info;
    },
  );

  r.post(
    '/v1/login-links',
    {
      config: { role: 'admin' },
      schema: { summary: 'A one-time dashboard login link (10 min)', tags: ['tokens'], response: { 201: LoginLink } },
    },
    async (req, reply) => {
      const { code, expires_at } = await store().loginCode('admin');
      return reply.status(201).send({ code, path: `/login?code=${encodeURIComponent(code)}`, expires_at });
    },
  );

  r.get(
    '/login',
    {
      config: { role: 'open' },
      schema: {
        summary: 'Trade a one-time login code for an HttpOnly session cookie, then go to the dashboard',
        tags: ['tokens'],
        querystring: z.object({ code: z.string().min(1) }),
        response: { 401: ErrorReply },
      },
    },
    async (req, reply) => {
      const s = store();
      const login = await s.verify(req.query.code);
      if (!login || login.name !== 'login')
        throw new FlotillaError(
          'FLO_UNAUTHENTICATED',
          'this login link is invalid, used or expired: ask for a new one (flotilla up prints one)',
        );
      await s.revoke(login.id); // one time
      const { token } = await s.create(login.role, 'session', { expiresInMs: SESSION_MS });
      return reply
        .setCookie(SESSION_COOKIE, token, {
          httpOnly: true,
          sameSite: 'strict',
          path: '/',
          secure: req.protocol === 'https',
          maxAge: SESSION_MS / 1000,
        })
        .redirect('/', 302);
    },
  );
}
