/** The init store's public surface, for the modules that import it by this path. */
export * from './init-store/index.js';
export { FileInitStore } from './init-store/file.js';
export { KubernetesSecretInitStore } from './init-store/kubernetes-secret.js';
