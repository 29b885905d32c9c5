export * from './errors.js';
export * from './reference.js';
export * from './logger.js';
export * from './vault-client.js';
export * from './vault/timeouts.js';
export {
  GenerateRootKeysError,
  decodeRootToken,
  type GenerateRootResult,
  type GenerateRootStatus,
} from './vault/generate-root.js';
export type { AutopilotState, RaftServer } from './vault/raft.js';
export type {
  DatabaseApi,
  DatabaseConnection,
  DatabaseConnectionWrite,
  DatabaseCredentials,
  DatabaseRole,
} from './vault/database.js';
export * from './env.js';
export * from './settings.js';
export * from './stack-commands.js';
export * from './app-heap.js';
export * from './unseal.js';
export * from './lifetime-watcher.js';
export * from './token-lifetime.js';
export * from './vault-diagnosis.js';
export * from './vault-call-observer.js';
export * from './locks.js';
export * from './database-lifetime.js';
