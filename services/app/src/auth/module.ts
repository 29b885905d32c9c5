/**
 * Clients, file-mounted secrets and authentication, wired together:
 * SECRETS_CONFIG → FileSecrets (watched, cached) ┐
 * PostgreSQL resources (Client, Patient) ────────┼→ Authenticator → basicAuth middleware (+ guess limiter)
 * Vault (vault: references) → ClientSecrets ─────┘
 * and the /fhir routes. An invalid SECRETS_CONFIG throws a ConfigError here, which stops the app at start.
 */
import type { RequestHandler, Router } from 'express';
import type { AppContext, AppModule } from '../context.js';
import { loadSecretsConfig } from '../file-secrets/config.js';
import { FileSecrets } from '../file-secrets/reader.js';
import { ResourceStore } from '../fhir/store.js';
import { fhirRoutes } from '../fhir/routes.js';
import { ClientSecrets } from './client-secrets.js';
import { Authenticator, basicAuth } from './basic-auth.js';
import { GuessLimiter } from './limiter.js';
import { ensureAdminClient } from './bootstrap.js';
import { resourceAccess } from './resource-access.js';
import { lazyFhirValidator } from '../fhir/validator-loader.js';
import { ClientDirectory } from './client-directory.js';

export interface ClientsModule extends AppModule {
  /** Sets res.locals.client (a CallerIdentity) or answers 401/429. */
  authenticate: RequestHandler;
  /** /fhir/Client, /fhir/Patient */
  router: Router;
}

export async function createClientsModule(ctx: AppContext): Promise<ClientsModule> {
  const { config, logger } = ctx;
  const clients = config.clients ?? {
    secretsConfigRequired: false,
    adminClientId: 'admin',
    adminSecretName: 'admin-secret',
    fileRevalidateMs: 500,
  };
  const secretsConfig = loadSecretsConfig(config.secretsConfigPath, clients.secretsConfigRequired);
  logger.info('file secrets configured', {
    config: config.secretsConfigPath,
    names: [...secretsConfig.secrets.keys()],
  });
  const fileSecrets = new FileSecrets(secretsConfig, { logger, revalidateMs: clients.fileRevalidateMs });
  await fileSecrets.start();

  const store = new ResourceStore(ctx.pool);
  const secrets = new ClientSecrets({
    fileSecrets,
    vault: ctx.vault,
    credentialsMount: config.vault.kvMount,
    ttlMs: config.cache.ttlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
    rereadIntervalMs: config.auth.vaultRereadSeconds * 1000,
    logger,
  });
  await ensureAdminClient(store, fileSecrets, logger, clients.adminClientId, clients.adminSecretName);

  const limiter = new GuessLimiter({
    maxGuesses: config.auth.maxFailures,
    windowSeconds: config.auth.windowSeconds,
  });
  const directory = new ClientDirectory(store, {
    ttlMs: config.auth.clientCacheTtlSeconds * 1000,
    maxEntries: config.cache.maxEntries,
  });
  const authenticator = new Authenticator(directory, secrets);
  const validator = lazyFhirValidator();
  return {
    authenticate: basicAuth(authenticator, { limiter, logger, limitByAddress: config.auth.limitByAddress }),
    router: fhirRoutes({ store, access: resourceAccess(secrets, directory, clients.adminClientId), validator }),
    close() {
      fileSecrets.close();
      directory.clear();
    },
  };
}
