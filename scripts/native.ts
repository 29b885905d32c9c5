/**
 * `make native`: the stack as local processes, no Docker. Same services, same env names as compose;
 * state under .native/ (NATIVE_DIR) so it survives a restart; processes run in the background with
 * their logs in .native/logs/ and their pids in .native/run/.
 *
 * As in compose, no database password is configured: the cluster's superuser password is generated with it
 * (.native/postgres/superuser-password), vault-init hands it to Vault's database secrets engine, which rotates
 * it at once, and the app runs on users leased from Vault (PG_VAULT_ROLE).
 *
 *   node --conditions=aurora-source --import tsx scripts/native.ts up | down | clean | status
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { APP_NODE_FLAGS, EnvReader, VaultClient, readSettings, setting } from '@aurora/common';
import {
  livePid,
  stopPid,
  repoRoot,
  run,
  vaultBinary,
  vaultServerConfig,
  initCluster,
  libpqEnv,
  superuserPasswordFile,
  SUPERUSER,
  postgresBinDir,
  postgresCommand,
  vaultInitEnv,
  vaultInitMain,
  vaultInitDirs,
  nativeVaultAgentOptions,
  vaultAgentCommand,
  writeNativeSecretsConfig,
  databaseEngineInitEnv,
  leasedAppEnv,
  WaitFailed,
  WaitTimedOut,
  waitFor,
  type DatabaseEndpoint,
} from '@aurora/process';

const root = repoRoot();
const dir = path.resolve(process.env.NATIVE_DIR ?? path.join(root, '.native'));
const PORT = { min: 1, max: 65535 };
/** The ports this stack listens on. A bad value is refused by `up` before anything starts (checkPorts). */
const PORT_SETTINGS = {
  vault: setting.int('NATIVE_VAULT_PORT', 8200, PORT, "Vault's API"),
  vaultInitHealth: setting.int('NATIVE_VAULT_INIT_HEALTH_PORT', 8201, PORT, "vault-init's /health and /metrics"),
  postgres: setting.int('NATIVE_PG_PORT', 55432, PORT, 'PostgreSQL'),
  app: setting.int('APP_PORT', 8080, PORT, "the app's HTTP API"),
  appMetrics: setting.int('APP_METRICS_PORT', 9464, { min: 0, max: 65535 }, "the app's /metrics; 0: none"),
};
// Read leniently here (a problem keeps the default) so that down, clean and status still work with a bad value.
const portReader = new EnvReader();
const ports = readSettings(PORT_SETTINGS, portReader);
const p = (...parts: string[]) => path.join(dir, ...parts);
const say = (msg: string) => process.stdout.write(`[native] ${msg}\n`);

function pidOf(name: string): number | undefined {
  return livePid(p('run', `${name}.pid`));
}

/** Starts a background process that outlives this command; returns its pid. */
function daemon(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  fs.mkdirSync(p('logs'), { recursive: true });
  fs.mkdirSync(p('run'), { recursive: true });
  const log = fs.openSync(p('logs', `${name}.log`), 'a');
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
    cwd: root,
  });
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(p('run', `${name}.pid`), String(child.pid));
  return child.pid!;
}

/**
 * Waits for `probe` (waitFor, every 200 ms) with a progress line every 5 s, for at most `timeoutMs`. A probe that
 * throws means "not yet", except a WaitFailed (the daemon waited on exited, see gone()): that ends the wait at once,
 * so the user reads the daemon's own last words instead of a timeout a minute later.
 */
async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
  detail: () => string | undefined = () => undefined,
): Promise<void> {
  try {
    await waitFor(what, async () => ((await probe()) ? true : undefined), timeoutMs, 200, {
      onWaiting: (ms) => {
        const now = detail();
        say(`  still waiting for ${what} (${Math.round(ms / 1000)} s)${now ? `: ${now}` : ''}`);
      },
    });
  } catch (err) {
    if (!(err instanceof WaitTimedOut)) throw err;
    const last = err.lastError ? ` (last: ${String(err.lastError)})` : '';
    throw new Error(`${what} did not come up within ${timeoutMs / 1000} s${last}; see ${p('logs')}`);
  }
}

/** What a wait throws when the daemon `name` it waits on is no longer running: its log's last lines. */
function gone(name: string, label = name): WaitFailed {
  return new WaitFailed(`${label} exited; see ${p('logs', `${name}.log`)}:\n${tail(p('logs', `${name}.log`))}`);
}

function portFree(port: number): boolean {
  try {
    run('bash', ['-c', `! (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every port a service that is not running yet will listen on, checked before anything starts: a port found taken
 * halfway (the compose stack's, usually) would leave some services running and, for vault-init's health port,
 * have another stack's vault-init answer this one's health checks.
 */
function checkPorts(): void {
  if (portReader.problems.length > 0) throw new Error(`${portReader.problems.join('; ')}. Nothing was started.`);
  const wanted: Array<[service: string, port: number, setting: string]> = [
    ['vault', ports.vault, 'NATIVE_VAULT_PORT'],
    ['postgres', ports.postgres, 'NATIVE_PG_PORT'],
    ['vault-init', ports.vaultInitHealth, 'NATIVE_VAULT_INIT_HEALTH_PORT'],
    ['app', ports.app, 'APP_PORT'],
    ['app', ports.appMetrics, 'APP_METRICS_PORT'],
  ];
  const listening = wanted.filter(([, port]) => port !== 0);
  for (const [i, [, port, setting]] of listening.entries()) {
    const other = listening.slice(i + 1).find(([, p]) => p === port);
    if (other)
      throw new Error(`${setting} and ${other[2]} are both ${port}: give each its own port. Nothing was started.`);
  }
  const taken = listening.filter(([service, port]) => !pidOf(service) && !portFree(port));
  if (taken.length === 0) return;
  throw new Error(
    `${taken.map(([service, port, setting]) => `port ${port} (${service}, ${setting}) is taken`).join('; ')}. ` +
      'Nothing was started. Is the compose stack running (make down)? Otherwise set the variable named above ' +
      '(APP_METRICS_PORT=0: no metrics listener).',
  );
}

async function startVault(): Promise<void> {
  const addr = `http://127.0.0.1:${ports.vault}`;
  if (!pidOf('vault')) {
    fs.mkdirSync(p('vault', 'data'), { recursive: true });
    fs.mkdirSync(p('vault', 'logs'), { recursive: true });
    fs.writeFileSync(p('vault', 'vault.hcl'), vaultServerConfig(p('vault', 'data'), ports.vault));
    say(`starting Vault on ${addr}`);
    daemon('vault', vaultBinary(), ['server', `-config=${p('vault', 'vault.hcl')}`], { VAULT_LOG_LEVEL: 'info' });
  }
  await waitUntil('Vault', async () => {
    if (!pidOf('vault')) throw gone('vault', 'Vault');
    return Boolean(await new VaultClient({ addr, timeoutMs: 2000 }).health());
  });
}

async function startPostgres(): Promise<void> {
  const dataDir = p('postgres', 'data');
  if (!pidOf('postgres')) {
    const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
    if (fresh) {
      say('creating a PostgreSQL cluster in .native/postgres');
      fs.mkdirSync(p('postgres'), { recursive: true });
      fs.chmodSync(p('postgres'), 0o755);
      initCluster(dataDir, p('postgres'));
    }
    say(`starting PostgreSQL on 127.0.0.1:${ports.postgres}`);
    const [cmd, args] = postgresCommand(dataDir, ports.postgres, p('postgres'), true);
    daemon('postgres', cmd, args);
  }
  const bin = postgresBinDir();
  await waitUntil('PostgreSQL', async () => {
    if (!pidOf('postgres')) throw gone('postgres', 'PostgreSQL');
    run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(ports.postgres), '-q']);
    return true;
  });
  // The app's database is made with the bootstrap password (in .native/postgres/pgpass, never on a command line),
  // before vault-init hands that password to Vault. Once Vault has rotated it, the password is dead: the
  // database exists then, since vault-init needs it to configure the engine.
  const psql = (db: string, sql: string) =>
    run(path.join(bin, 'psql'), ['-w', '-Atc', sql], { env: libpqEnv(dataDir, '127.0.0.1', ports.postgres, db) });
  let exists: boolean;
  try {
    exists = Boolean(psql('postgres', "SELECT 1 FROM pg_database WHERE datname = 'aurora'").trim());
  } catch (err) {
    if (/password authentication failed/.test((err as Error).message)) return;
    throw err;
  }
  if (!exists) psql('postgres', 'CREATE DATABASE aurora');
}

/** This stack's PostgreSQL as Vault and the app reach it. */
function nativeDatabase(): DatabaseEndpoint {
  return { host: '127.0.0.1', port: ports.postgres, database: 'aurora' };
}

async function startVaultInit(): Promise<void> {
  if (!pidOf('vault-init')) {
    const env = await vaultInitEnv({ addr: `http://127.0.0.1:${ports.vault}` }, vaultInitDirs(dir), {
      VAULT_INIT_HEALTH_PORT: String(ports.vaultInitHealth),
      VAULT_WAIT_TIMEOUT_MS: '120000',
      VAULT_BANNER_CLI: `source ${path.relative(root, p('env')) || p('env')} && vault`,
      // Its messages (Vault unreachable, audit disk full) name this stack's log files, not docker logs.
      AURORA_STACK: 'native',
      // Vault's database secrets engine on this stack's cluster: the generated bootstrap password, handed over once.
      ...databaseEngineInitEnv({
        ...nativeDatabase(),
        passwordFile: superuserPasswordFile(p('postgres', 'data')),
        superuser: SUPERUSER,
      }),
    });
    say('starting vault-init (initializes Vault on the first run, then keeps it unsealed)');
    fs.rmSync(p('logs', 'vault-init.log'), { force: true });
    daemon('vault-init', process.execPath, [vaultInitMain()], env);
  }
  let waiting: VaultInitHealth | undefined;
  try {
    await waitUntil(
      'vault-init (unsealed + configured)',
      async () => {
        if (!pidOf('vault-init')) throw gone('vault-init');
        waiting = await vaultInitHealth();
        return waiting?.ok === true;
      },
      60_000,
      () => waiting?.waitingFor,
    );
  } catch (err) {
    const held = (await vaultInitHealth())?.keysNotSaved;
    if (!held) throw err;
    throw new KeysHeldError(held.reason);
  }
}

/** vault-init's /health: ok, what it waits for, and whether it holds new keys it could not save. */
interface VaultInitHealth {
  ok: boolean;
  waitingFor?: string;
  keysNotSaved?: { attempt: number; reason: string };
}

async function vaultInitHealth(): Promise<VaultInitHealth | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${ports.vaultInitHealth}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as Omit<VaultInitHealth, 'ok'>;
    return { ok: res.ok, waitingFor: body.waitingFor, keysNotSaved: body.keysNotSaved };
  } catch {
    return undefined;
  }
}

/**
 * vault-init initialized Vault and holds the new unseal keys because it cannot save them: stopping it loses them.
 * The way on is to fix the cause while it runs; nothing is stored in this Vault yet, so wiping it costs nothing.
 */
class KeysHeldError extends Error {
  constructor(reason: string) {
    super(
      `vault-init initialized Vault but cannot save the new unseal keys: ${reason}. It holds them and tries again: ` +
        'fix that while it runs, and it saves them and carries on (then run make native again). Do not stop it ' +
        'before (make native-down refuses): the keys would be lost. To start over instead: make native-clean (this ' +
        'new Vault holds nothing yet).',
    );
  }
}

/** The agent renders the listed secrets into .native/secrets/ (compose: the vault-secrets tmpfs volume). */
async function startAgent(): Promise<void> {
  if (!pidOf('vault-agent')) {
    fs.mkdirSync(p('secrets'), { recursive: true, mode: 0o700 });
    const agent = vaultAgentCommand(nativeVaultAgentOptions(dir, `http://127.0.0.1:${ports.vault}`));
    say('starting vault-agent (renders file-mounted secrets into .native/secrets/)');
    daemon('vault-agent', agent.command, agent.args, agent.env);
  }
  // The admin secret always exists (vault-init generates it): once it is rendered, the agent works.
  await waitUntil('vault-agent to render admin-secret', async () => {
    if (!pidOf('vault-agent')) throw gone('vault-agent');
    return fs.statSync(p('secrets', 'admin-secret'), { throwIfNoEntry: false })?.size ? true : false;
  });
}

/**
 * The app as compose runs it, with the file secrets the agent renders into .native/secrets/ instead of
 * /run/vault-secrets/ (the same SECRETS_CONFIG, paths rewritten). Its env is kept in .native/app.env, which
 * `make doctor` reads too.
 */
async function startApp(): Promise<void> {
  const base = `http://127.0.0.1:${ports.app}`;
  if (!pidOf('app')) {
    const secretsConfig = writeNativeSecretsConfig(dir);
    const env: Record<string, string> = {
      PORT: String(ports.app),
      HOST: '127.0.0.1',
      METRICS_PORT: String(ports.appMetrics),
      VAULT_ADDR: `http://127.0.0.1:${ports.vault}`,
      VAULT_APPROLE_DIR: p('approle', 'app'),
      SECRETS_CONFIG: secretsConfig,
      // No password: users leased from Vault (queries; migrations at start as the maintenance role).
      ...leasedAppEnv(nativeDatabase()),
      // Messages (the app's and doctor's, which reads app.env) name this stack's commands, not docker's.
      AURORA_STACK: 'native',
    };
    fs.writeFileSync(
      p('app.env'),
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    say(`starting the app on ${base}`);
    // VAULT_TOKEN from the user's shell (e.g. after `source .native/env`) must not replace the app's AppRole.
    daemon('app', process.execPath, [...APP_NODE_FLAGS, path.join(root, 'services', 'app', 'dist', 'main.js')], {
      ...env,
      VAULT_TOKEN: '',
    });
  }
  await waitUntil('the app (/readyz)', async () => {
    if (!pidOf('app')) throw gone('app', 'the app');
    return (await fetch(`${base}/readyz`)).ok;
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The last banner vault-init printed (its stdout shares the log file with its JSON log lines). */
function banner(): string | undefined {
  const log = fs.existsSync(p('logs', 'vault-init.log')) ? fs.readFileSync(p('logs', 'vault-init.log'), 'utf8') : '';
  const lines = log.split('\n');
  const end = lines.map((l, i) => (/^={20,}/.test(l) ? i : -1)).filter((i) => i >= 0);
  if (end.length < 2) return undefined;
  return lines.slice(end[end.length - 2], (end[end.length - 1] as number) + 1).join('\n');
}

function writeEnvFile(): void {
  const lines = [
    '# source .native/env  — the native stack, with the same names as compose',
    `export VAULT_ADDR=http://127.0.0.1:${ports.vault}`,
    `export PATH=${path.dirname(vaultBinary())}:$PATH`,
    `export PGHOST=127.0.0.1 PGPORT=${ports.postgres} PGDATABASE=aurora`,
    '# PostgreSQL users come from Vault (no stored password): vault read database/creds/aurora-maintenance',
    '# gives a username and password that live for the lease (docs/vault.md, "Database credentials")',
  ];
  if (fs.existsSync(p('cli', '.vault-token')))
    lines.push(
      `# the operator token vault-init wrote (the compose CLI reads it as ~/.vault-token)\nexport VAULT_TOKEN=$(cat ${p('cli', '.vault-token')})`,
    );
  // Whole or not at all, for a shell that sources it while make native runs.
  fs.writeFileSync(p('env.tmp'), lines.join('\n') + '\n');
  fs.renameSync(p('env.tmp'), p('env'));
}

async function up(): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  checkPorts();
  await startVault();
  await startPostgres();
  // The addresses first: make doctor and a user's shell read them while vault-init may still be at work (a wait on
  // Raft, keys it cannot save yet); again at the end with the operator token vault-init wrote.
  writeEnvFile();
  await startVaultInit();
  await startAgent();
  await startApp();
  writeEnvFile();
  const b = banner();
  if (b) process.stdout.write(`\n${b}\n\n`);
  say(`Vault:      http://127.0.0.1:${ports.vault} (UI at /ui; this build has no UI assets, the compose image does)`);
  say(
    `PostgreSQL: 127.0.0.1:${ports.postgres}/aurora, users leased from Vault (vault read database/creds/aurora-maintenance)`,
  );
  say(`App:        http://127.0.0.1:${ports.app} (GET /readyz; every other route needs HTTP Basic client_id:secret)`);
  const here = (file: string) => path.relative(process.cwd(), file) || file;
  say(
    `Admin:      curl -u admin:$(cat ${here(p('secrets', 'admin-secret'))}) http://127.0.0.1:${ports.app}/fhir/Client`,
  );
  say(`Use them:   source ${here(p('env'))}   then   vault status`);
  // No database password is stored anywhere: a psql session needs a user leased for it.
  say('psql:       vault read database/creds/aurora-maintenance   then   psql -U <username>   (password when asked)');
  say(`Logs:       ${here(p('logs'))}/      Stop: make native-down      Wipe: make native-clean`);
}

async function down(options: { wiping?: boolean } = {}): Promise<void> {
  const names = fs.existsSync(p('run')) ? fs.readdirSync(p('run')).map((f) => f.replace(/\.pid$/, '')) : [];
  // A stop would lose keys vault-init holds because it cannot save them; a wipe loses nothing worth keeping.
  const held = !options.wiping && pidOf('vault-init') ? (await vaultInitHealth())?.keysNotSaved : undefined;
  if (held) throw new KeysHeldError(held.reason);
  // Reverse start order: the app and agent before Vault and PostgreSQL.
  for (const name of ['app', 'vault-agent', 'vault-init', 'postgres', 'vault'].filter((n) => names.includes(n))) {
    const pid = pidOf(name);
    if (pid) {
      say(`stopping ${name} (pid ${pid})`);
      // PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave).
      await stopPid(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM', 10_000);
    }
    fs.rmSync(p('run', `${name}.pid`), { force: true });
  }
}

async function status(): Promise<void> {
  for (const name of ['vault', 'postgres', 'vault-init', 'vault-agent', 'app']) {
    const pid = pidOf(name);
    say(`${name.padEnd(12)} ${pid ? `running (pid ${pid})` : 'stopped'}`);
  }
}

const commands: Record<string, () => Promise<void>> = {
  up,
  down,
  status,
  clean: async () => {
    await down({ wiping: true });
    fs.rmSync(dir, { recursive: true, force: true });
    say(`removed ${dir}: every native secret and row is gone`);
  },
};

const cmd = process.argv[2] ?? 'up';
const fn = commands[cmd];
if (!fn) {
  process.stderr.write(`usage: native.ts ${Object.keys(commands).join('|')}\n`);
  process.exit(2);
}
fn().catch((err: unknown) => {
  process.stderr.write(`[native] ${err instanceof Error ? err.message : String(err)}\n`);
  // What a failed start leaves running is kept (its data, its logs), but the user must know it runs.
  const running = cmd === 'up' ? ['vault', 'postgres', 'vault-init', 'vault-agent', 'app'].filter((n) => pidOf(n)) : [];
  if (running.length > 0 && !(err instanceof KeysHeldError))
    process.stderr.write(
      `[native] still running: ${running.join(', ')}. Fix the cause and run make native again (it starts what is ` +
        'missing), or make native-down to stop them.\n',
    );
  process.exit(1);
});
