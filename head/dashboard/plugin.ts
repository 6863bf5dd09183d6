/**
 * The dashboard: static files served by the head itself (no separate server, no CDN). `/` is
 * the single page (hash routes #/jobs, #/job/ID, #/studies, #/study/ID, #/workers); its scripts live under /ui/ and
 * uPlot is served from node_modules at /ui/vendor/uplot/ (not bundled: the head needs no build
 * step for the page). The page uses only the REST API and its SSE events, same-origin, so a
 * session cookie or a bearer token works for it as for any client.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sourceDir } from '../../shared/run-entry.ts';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

const here = sourceDir(import.meta.url);
/** Where the page's own files are. */
export const PUBLIC_DIR = join(here, 'public');
/** uPlot's dist folder (ESM build + CSS), resolved through node's module lookup. */
export const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/ui/',
    index: false,
    cacheControl: true,
    maxAge: 0,
    schemaHide: true,
  });
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/ui/vendor/uplot/',
    decorateReply: false,
    index: false,
    allowedPath: (p) => p === '/uPlot.esm.js' || p === '/uPlot.min.css',
    schemaHide: true,
  });
  app.get('/', { config: { role: 'open' }, schema: { hide: true } as Record<string, unknown> }, async (_req, reply) =>
    reply.header('cache-control', 'no-cache').sendFile('index.html'),
  );
}
