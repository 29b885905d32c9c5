/**
 * @aurora/process: the project's servers as local processes, for `make native`, the operations scripts, the
 * bench and the tests. Everything a process starts through `spawnServer` dies with it (processes.ts).
 */

// Processes in general: start, stop (a child or a bare pid), wait for a condition, free ports, state dirs.
export {
  exited,
  freePort,
  livePid,
  pidAlive,
  readIfPresent,
  repoRoot,
  run,
  serviceNode,
  spawnServer,
  startBoth,
  stopIfSetUpFails,
  stopPid,
  stopProcess,
  tempDir,
  TSX_NODE_ARGS,
  waitFor,
  WaitFailed,
  WaitTimedOut,
  within,
  type Stoppable,
  type WaitProgress,
} from './processes.js';

// Vault: the pinned binary, one dev-style node, a Raft cluster.
export {
  generateRootStarted,
  initAndUnseal,
  lookupToken,
  pinnedVaultVersion,
  vaultBinary,
  vaultServerConfig,
  VaultServer,
  type VaultServerOptions,
} from './vault.js';
export { RaftCluster, RaftNode, type RaftHealth } from './raft.js';

// Vault's database secrets engine on a local PostgreSQL: vault-init's and the app's settings.
export {
  databaseEngineInitEnv,
  leasedAppEnv,
  LEASED_APP_ROLE,
  LEASED_MIGRATIONS_ROLE,
  type DatabaseEndpoint,
} from './database-engine.js';

// PostgreSQL: the installed binaries, a cluster of our own on a free port.
export {
  initCluster,
  libpqEnv,
  pgCommand,
  pgPassFile,
  pgPassLine,
  postgresBinDir,
  postgresCommand,
  PostgresServer,
  superuserPasswordFile,
  SUPERUSER,
  transientPgPassFile,
  type PgLogin,
  type PostgresOptions,
} from './postgres.js';

// vault-init, the Vault agent and its config, the app.
export {
  runVaultInitOnce,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  vaultInitHealthcheck,
  vaultInitMain,
  VaultInitProcess,
  type Exit,
  type VaultInitDirs,
} from './vault-init.js';
export {
  nativeVaultAgentOptions,
  VaultAgent,
  vaultAgentCommand,
  writeNativeSecretsConfig,
  type VaultAgentOptions,
} from './agent.js';
export {
  AGENT_HCL_FILE,
  COMPOSE_AGENT_OPTIONS,
  composeAgentConfig,
  parseObjects,
  readObjects,
  renderAgentConfig,
  type AgentConfigOptions,
  type AgentObject,
} from './agent-config.js';
export { AppProcess, appDist, findTornFiles, lastJsonLine, type TornFiles } from './app.js';

// A whole single-node stack (Vault, PostgreSQL, vault-init --once, the app) and its data.
export {
  clientResource,
  credentialRows,
  CredentialsStack,
  kvVersions,
  putClientRow,
  readHttpResult,
  type ClientSpec,
  type HttpResult,
  type RequestOptions,
  type StackOptions,
} from './stack.js';

// What a running process reports on /metrics (Prometheus text format).
export { parseScrape, type Sample, type Scrape } from './metrics.js';
