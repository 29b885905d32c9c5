/** User credentials: `vault:` references in PostgreSQL, values in Vault, resolved at runtime. */
import type { Router } from 'express';
import type { AppContext, AppModule } from '../context.js';
import { CredentialResolver } from './resolver.js';
import { credentialRoutes } from './routes.js';
import { CredentialsService } from './service.js';
import { CredentialStore } from './store.js';

export interface CredentialsModule extends AppModule {
  router: Router;
  /** Resolves `vault:` references under the configured mount/base (cached); other modules may use it. */
  resolver: CredentialResolver;
  service: CredentialsService;
}

export async function createCredentialsModule(ctx: AppContext): Promise<CredentialsModule> {
  const { kvMount: mount, kvBasePath: base } = ctx.config.vault;
  const { ttlSeconds, maxEntries, referenceTtlSeconds } = ctx.config.cache;
  const resolver = new CredentialResolver(ctx.vault, { mount, base, ttlSeconds, maxEntries });
  const service = new CredentialsService(new CredentialStore(ctx.pool), ctx.vault, resolver, ctx.logger, {
    mount,
    base,
    referenceTtlSeconds,
    maxEntries,
  });
  return {
    router: credentialRoutes(service, ctx.logger),
    resolver,
    service,
    close() {
      service.close();
    },
  };
}
