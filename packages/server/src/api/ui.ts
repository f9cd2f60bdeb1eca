import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { Deps } from './http.js';

/**
 * The built web UI (vite, from ui/). Resolved from the package root so that the same path
 * holds whether this module runs from src/ (tests, tsx) or from dist/.
 */
export const UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/** The UI's Content-Security-Policy: no inline script or style, nothing from other origins. */
export function uiCsp(frameAncestors: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

function secure(reply: FastifyReply, frameAncestors: string): void {
  reply.header('content-security-policy', uiCsp(frameAncestors));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
}

/**
 * The customer portal (/portal, embeddable where HOOKWELL_PORTAL_FRAME_ANCESTORS allows) and
 * the operator dashboard (/dashboard, never framed): one single-page app. These pages carry no
 * credential: the token is in the URL fragment or typed in, and every API call is checked.
 */
export async function uiRoutes(app: FastifyInstance, d: Deps): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object | undefined), public: true } as typeof route.config;
      route.schema = { ...route.schema, hide: true };
    });

    const assets = join(UI_DIR, 'assets');
    if (existsSync(assets)) {
      await scope.register(fastifyStatic, {
        root: assets,
        prefix: '/ui/assets/',
        index: false,
        // File names carry a hash of their content.
        immutable: true,
        maxAge: '365d',
        decorateReply: false,
        setHeaders: (res) => {
          res.header('x-content-type-options', 'nosniff');
          res.header('referrer-policy', 'no-referrer');
        },
      });
    }

    let index: string | null = null;
    const page = async (reply: FastifyReply, frameAncestors: string) => {
      secure(reply, frameAncestors);
      reply.header('cache-control', 'no-cache');
      try {
        index ??= await readFile(join(UI_DIR, 'index.html'), 'utf8');
      } catch {
        return reply.code(503).type('text/plain; charset=utf-8').send('The web UI is not built: run "npm run build".');
      }
      return reply.type('text/html; charset=utf-8').send(index);
    };

    scope.get('/portal', async (_req, reply) => page(reply, d.cfg.portalFrameAncestors));
    scope.get('/dashboard', async (_req, reply) => page(reply, "'none'"));
    scope.get('/', async (_req, reply) => reply.redirect('/dashboard', 302));
  });
}
