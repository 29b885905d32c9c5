export * from './errors.js';
export * from './reference.js';
export * from './logger.js';
export * from './vault-client.js';
export * from './env.js';
export * from './vault-call-observer.js';
