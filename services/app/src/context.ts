/** What every part of the app is built from; created once in main.ts (and by tests). */
import type { Logger } from '@aurora/common';
import type { AppConfig } from './config.js';
import type { VaultSession } from './vault/session.js';
import type { Db } from './store/db.js';

export interface AppContext {
  config: Readonly<AppConfig>;
  logger: Logger;
  pool: Db;
  vault: VaultSession;
}

/** A part of the app: its routes, and what to release on shutdown. */
export interface AppModule {
  close(): Promise<void> | void;
}
