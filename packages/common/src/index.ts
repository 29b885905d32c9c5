export * from './errors.js';
export * from './reference.js';
export * from './logger.js';
export * from './vault-client.js';
export * from './env.js';
export * from './lifetime-watcher.js';
export * from './token-lifetime.js';
export * from './vault-diagnosis.js';
