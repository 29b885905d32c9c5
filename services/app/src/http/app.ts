/**
 * The express application: health first (no auth), then authentication, then the resource routes, then
 * the one error handler. Routes validate and delegate; services own the logic and the compensation.
 */
import express from 'express';
import type { AppContext } from '../context.js';
import { errorHandler, notFound, requireJson } from './errors.js';
import { healthRoutes } from './health.js';
import { countRequests } from './metrics.js';
import { createCredentialsModule } from '../credentials/module.js';
import { createClientsModule } from '../auth/module.js';

export interface BuiltApp {
  app: express.Express;
  close(): Promise<void>;
}

/**
 * `router` only for requests under `prefix` (case-insensitive, as express routes are); any other request skips it
 * with one test instead of being matched against each of its routes. The router keeps its full paths, so
 * `req.baseUrl` stays empty and a route's metrics label is its own path, also when an error leaves the router.
 */
function under(prefix: string, router: express.RequestHandler): express.RequestHandler {
  const mounted = new RegExp(`^${prefix}(?:/|$)`, 'i');
  return (req, res, next) => (mounted.test(req.path) ? router(req, res, next) : next());
}

export async function buildApp(ctx: AppContext): Promise<BuiltApp> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // X-Forwarded-For is believed only from the proxies named in AUTH_TRUSTED_PROXIES (none by default).
  app.set('trust proxy', ctx.config.auth.trustedProxies.length ? ctx.config.auth.trustedProxies : false);

  app.use(countRequests);
  app.use(healthRoutes(ctx.pool, ctx.vault));

  const clients = await createClientsModule(ctx);
  const credentials = await createCredentialsModule(ctx);

  // Authenticate before parsing a body: an unauthenticated caller costs us a header check, no more.
  app.use(clients.authenticate);
  app.use(requireJson);
  app.use(
    express.json({ limit: ctx.config.bodyLimit, type: ['application/json', 'application/fhir+json'], strict: true }),
  );
  app.use(under('/fhir', clients.router));
  app.use(under('/users', credentials.router));
  app.use(notFound);
  app.use(errorHandler(ctx.logger));

  return {
    app,
    async close() {
      await Promise.all([clients.close(), credentials.close()]);
    },
  };
}
