/** The init store's public surface, for the modules that import it by this path. */
export * from './init-store/index.js';
