/**
 * Where a backup is taken from and a restore goes to. Two shapes:
 *  - DirTarget: Vault's file storage and init.json are directories on this machine, PostgreSQL answers on a
 *    loopback port (the native stack, .native/; the tests use the same class over harness processes, with
 *    their own process control);
 *  - ComposeTarget: the compose stack; files move with `docker cp` (stopped containers too) and a throwaway
 *    helper container on the service's own volumes (`--volumes-from`), PostgreSQL through `docker exec`.
 * backup-restore.ts drives either through the StackTarget interface.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BackupError, workDir } from './archive.js';
import { opsClient, sealStatus, unsealWith, type InitFileKeys, type SealStatus } from './vault-api.js';
import { PsqlSession } from './write-barrier.js';

/** One Raft node's seal status as that node answers it (undefined: no answer). */
export interface RaftNodeSeal {
  node: string;
  sealed: boolean | undefined;
}

export interface DoctorResult {
  dangling: number;
  orphans: number;
  damaged: number;
  remaining: number;
  /** Dangling rows whose secret Vault can still give back (undelete / rollback): repair leaves them alone. */
  recoverable: number;
  /** Rows recording another version than Vault's current one (repair records Vault's). */
  mismatched: number;
}

export interface StackTarget {
  /** For messages: "native (.native/)", "compose (project <checkout folder>)". */
  readonly name: string;
  readonly kind: 'native' | 'compose' | 'test';
  /** The parts of the stack that are running now. */
  running(): Promise<string[]>;
  /** Whether a restore would overwrite existing data. */
  hasData(): Promise<boolean>;
  sealStatus(): Promise<SealStatus>;
  /** Is something (vault-init's watch loop) keeping Vault unsealed? If not, the tools unseal with init.json. */
  watcherRunning(): Promise<boolean>;
  /** Unseals directly with the init material (only where no vault-init watches). */
  unseal?(material: InitFileKeys): Promise<void>;
  /** Where this machine reaches Vault's API (token checks, generate-root on Raft storage). */
  vaultApiAddr(): string;

  // File storage: the backup's pause.
  stopVault(): Promise<void>;
  startVault(): Promise<void>;
  copyVaultData(destTar: string): Promise<void>;
  readInit(): Promise<Buffer>;
  /** pg_dump of the app's database; with `snapshot`, as of that exported snapshot (pg_dump --snapshot). */
  pgDump(destFile: string, snapshot?: string): Promise<void>;

  // Raft storage: online, no pause (write-barrier.ts).
  /** A psql session on the app's database (for the write barrier and the exported snapshot). */
  psql(): PsqlSession;
  /** `vault operator raft snapshot save` with `token`, into `destFile`. */
  raftSnapshotSave(destFile: string, token: string): Promise<void>;
  /** `vault operator raft snapshot restore [-force]`; Vault applies it asynchronously after answering. */
  raftSnapshotRestore(file: string, token: string, force: boolean): Promise<void>;
  /**
   * Each Raft node's own seal status, asked of that node (not forwarded): `node` names it for messages;
   * `sealed` is undefined when the node does not answer. Every node of the cluster is listed, the active one too.
   */
  raftNodeSealStatuses(): Promise<RaftNodeSeal[]>;

  // Restore.
  /** Everything but PostgreSQL stopped; PostgreSQL running. With `keepVault` (Raft), Vault keeps running. */
  stopForRestore(options?: { keepVault?: boolean }): Promise<void>;
  putVaultData(tarFile: string): Promise<void>;
  putInit(file: string): Promise<void>;
  pgRestore(sqlFile: string): Promise<void>;
  /** Starts what stopForRestore stopped (vault-init unseals with the restored keys). */
  startAfterRestore(): Promise<void>;
  doctor(): Promise<DoctorResult>;
  /** After a verified restore: drop what was kept for a rollback. */
  cleanUp?(): Promise<void>;
}

/** Runs a command; stdout as a Buffer; stderr (trimmed, capped) in the error. Never echoes its input. */
export function exec(
  cmd: string,
  args: string[],
  options: {
    input?: Buffer | string;
    inputFile?: string;
    outFile?: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    what?: string;
  } = {},
): Buffer {
  let inFd: number | undefined;
  let outFd: number | undefined;
  try {
    if (options.inputFile) inFd = fs.openSync(options.inputFile, 'r');
    if (options.outFile) outFd = fs.openSync(options.outFile, 'w', 0o600);
    const res = spawnSync(cmd, args, {
      input: options.input,
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [inFd ?? (options.input !== undefined ? 'pipe' : 'ignore'), outFd ?? 'pipe', 'pipe'],
      maxBuffer: 512 * 1024 * 1024,
    });
    if (res.error) throw new BackupError(`${options.what ?? cmd} could not run: ${res.error.message}`);
    if (res.status !== 0) {
      const err = (res.stderr?.toString('utf8') ?? '').trim().split('\n').slice(-8).join('\n').slice(0, 2000);
      throw new BackupError(
        `${options.what ?? `${cmd} ${args[0] ?? ''}`} failed (exit ${res.status ?? res.signal})${err ? `: ${err}` : ''}`,
      );
    }
    return res.stdout ?? Buffer.alloc(0);
  } finally {
    if (inFd !== undefined) fs.closeSync(inFd);
    if (outFd !== undefined) fs.closeSync(outFd);
  }
}

/** Writes `content` to `file` (0600) atomically: temp file, fsync, rename. */
export function writePrivateFile(file: string, content: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.restore-tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  const fd = fs.openSync(tmp, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface PgConnection {
  binDir: string;
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
}

export interface DirTargetControl {
  running(): Promise<string[]>;
  stopVault(): Promise<void>;
  startVault(): Promise<void>;
  watcherRunning(): Promise<boolean>;
  stopForRestore(options?: { keepVault?: boolean }): Promise<void>;
  startAfterRestore(): Promise<void>;
  doctor(): Promise<DoctorResult>;
}

export interface DirTargetOptions {
  name: string;
  kind: 'native' | 'test';
  vaultAddr: string;
  /** Raft storage: every node's API address (the seal of each is checked after a snapshot restore). */
  raftNodeAddrs?: string[];
  vaultDataDir: string;
  initFile: string;
  pg: PgConnection;
  control: DirTargetControl;
}

/** Vault file storage + init.json as local directories, PostgreSQL on a port: native mode and the tests. */
export class DirTarget implements StackTarget {
  readonly name: string;
  readonly kind: 'native' | 'test';
  private previousData?: string;

  constructor(readonly options: DirTargetOptions) {
    this.name = options.name;
    this.kind = options.kind;
    if (!IDENT.test(options.pg.database))
      throw new BackupError(`database name ${JSON.stringify(options.pg.database)} is not a plain identifier`, 2);
  }

  running(): Promise<string[]> {
    return this.options.control.running();
  }

  async hasData(): Promise<boolean> {
    const { vaultDataDir, initFile } = this.options;
    return fs.existsSync(initFile) || (fs.existsSync(vaultDataDir) && fs.readdirSync(vaultDataDir).length > 0);
  }

  sealStatus(): Promise<SealStatus> {
    return sealStatus(this.options.vaultAddr);
  }
  vaultApiAddr(): string {
    return this.options.vaultAddr;
  }
  watcherRunning(): Promise<boolean> {
    return this.options.control.watcherRunning();
  }
  unseal(material: InitFileKeys): Promise<void> {
    return unsealWith(this.options.vaultAddr, material);
  }
  stopVault(): Promise<void> {
    return this.options.control.stopVault();
  }
  startVault(): Promise<void> {
    return this.options.control.startVault();
  }

  async copyVaultData(destTar: string): Promise<void> {
    const dir = this.options.vaultDataDir;
    if (!fs.existsSync(dir))
      throw new BackupError(`Vault's storage dir ${dir} does not exist: is this stack initialized?`);
    exec('tar', ['-cf', destTar, '-C', dir, '.'], { what: `tar of ${dir}` });
    fs.chmodSync(destTar, 0o600);
  }

  async readInit(): Promise<Buffer> {
    try {
      return fs.readFileSync(this.options.initFile);
    } catch (err) {
      throw new BackupError(
        `cannot read the init material ${this.options.initFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }

  private pgEnv(): NodeJS.ProcessEnv {
    const { pg } = this.options;
    return {
      ...process.env,
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password ?? '',
      PGCONNECT_TIMEOUT: '10',
    };
  }

  async pgDump(destFile: string, snapshot?: string): Promise<void> {
    const { pg } = this.options;
    exec(
      path.join(pg.binDir, 'pg_dump'),
      ['--no-owner', '--no-acl', ...(snapshot ? [`--snapshot=${snapshot}`] : []), '-d', pg.database],
      { outFile: destFile, env: this.pgEnv(), what: 'pg_dump' },
    );
  }

  psql(): PsqlSession {
    const { pg } = this.options;
    return new PsqlSession(path.join(pg.binDir, 'psql'), ['-d', pg.database], this.pgEnv());
  }

  /** The API call the CLI makes (`vault operator raft snapshot save`), streamed to the file. */
  async raftSnapshotSave(destFile: string, token: string): Promise<void> {
    await opsClient(this.options.vaultAddr, token).raft.snapshotSave(destFile);
  }

  /** `vault operator raft snapshot restore [-force]`; a standby's redirect to the active node is followed. */
  async raftSnapshotRestore(file: string, token: string, force: boolean): Promise<void> {
    await opsClient(this.options.vaultAddr, token).raft.snapshotRestore(file, { force });
  }

  async raftNodeSealStatuses(): Promise<RaftNodeSeal[]> {
    const addrs = this.options.raftNodeAddrs ?? [this.options.vaultAddr];
    return Promise.all(
      addrs.map(async (node) => ({ node, sealed: (await sealStatus(node).catch(() => undefined))?.sealed })),
    );
  }

  stopForRestore(options?: { keepVault?: boolean }): Promise<void> {
    return this.options.control.stopForRestore(options);
  }

  async putVaultData(tarFile: string): Promise<void> {
    const dir = this.options.vaultDataDir;
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const fresh = `${dir}.restoring`;
    fs.rmSync(fresh, { recursive: true, force: true });
    fs.mkdirSync(fresh, { mode: 0o700 });
    exec('tar', ['-xf', tarFile, '-C', fresh], { what: "unpacking Vault's data" });
    fs.chmodSync(fresh, 0o700);
    const previous = `${dir}.pre-restore`;
    if (fs.existsSync(dir)) {
      // A .pre-restore left by a failed restore holds the data from before it: keep that one.
      if (fs.existsSync(previous)) fs.rmSync(dir, { recursive: true, force: true });
      else fs.renameSync(dir, previous);
    }
    if (fs.existsSync(previous)) this.previousData = previous;
    fs.renameSync(fresh, dir);
  }

  async putInit(file: string): Promise<void> {
    writePrivateFile(this.options.initFile, fs.readFileSync(file));
    fs.rmSync(`${this.options.initFile}.tmp`, { force: true });
  }

  async pgRestore(sqlFile: string): Promise<void> {
    const { pg } = this.options;
    const psql = path.join(pg.binDir, 'psql');
    const db = `"${pg.database}"`;
    exec(
      psql,
      [
        '-d',
        'postgres',
        '-v',
        'ON_ERROR_STOP=1',
        '-q',
        '-c',
        `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`,
        '-c',
        `CREATE DATABASE ${db}`,
      ],
      { env: this.pgEnv(), what: 'recreating the database' },
    );
    exec(
      psql,
      ['-d', pg.database, '-v', 'ON_ERROR_STOP=1', '-q', '-o', '/dev/null', '--single-transaction', '-f', sqlFile],
      { env: this.pgEnv(), what: 'loading the PostgreSQL dump' },
    );
  }

  startAfterRestore(): Promise<void> {
    return this.options.control.startAfterRestore();
  }
  doctor(): Promise<DoctorResult> {
    return this.options.control.doctor();
  }

  async cleanUp(): Promise<void> {
    if (this.previousData) fs.rmSync(this.previousData, { recursive: true, force: true });
  }
}

/** NAME from the environment, else from the checkout's .env (as compose reads it), else undefined. */
export function fromDotEnv(root: string, name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  try {
    const line = fs
      .readFileSync(path.join(root, '.env'), 'utf8')
      .split('\n')
      .reverse()
      .find((l) => l.trim().startsWith(`${name}=`));
    return (
      line
        ?.split('=')
        .slice(1)
        .join('=')
        .trim()
        .replace(/^["']|["']$/g, '') || undefined
    );
  } catch {
    return undefined;
  }
}

/** The compose project a container belongs to (its label), if the container exists. */
export function projectOf(container: string): string | undefined {
  const res = spawnSync(
    'docker',
    ['inspect', '-f', '{{index .Config.Labels "com.docker.compose.project"}}', container],
    { encoding: 'utf8' },
  );
  const project = res.status === 0 ? res.stdout.trim() : '';
  return project && project !== '<no value>' ? project : undefined;
}

/** Parses `doctor --json` output. */
export function parseDoctor(stdout: string): DoctorResult {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!line) throw new BackupError(`doctor printed no JSON report: ${stdout.slice(0, 500)}`);
  const r = JSON.parse(line) as Partial<DoctorResult>;
  return {
    dangling: Number(r.dangling ?? NaN),
    orphans: Number(r.orphans ?? NaN),
    damaged: Number(r.damaged ?? NaN),
    remaining: Number(r.remaining ?? NaN),
    recoverable: Number(r.recoverable ?? 0),
    mismatched: Number(r.mismatched ?? 0),
  };
}

/**
 * The compose stack: `make prod-local`'s, or `make prod-local-ha`'s (project <name>-ha, three Vault nodes on
 * Raft, the `vault` container a Vault Proxy). Container names vault and vault-init are fixed; the project is
 * the one that owns them (its label), and the other services are found by their compose labels, so neither
 * the compose files nor COMPOSE_* variables need to be repeated here. Containers are stopped and started with
 * `docker stop/start` so that nothing is recreated (the images a `make prod-local` chose, official or offline,
 * stay as they are).
 */
export class ComposeTarget implements StackTarget {
  readonly kind = 'compose' as const;
  readonly name: string;
  readonly project: string;

  constructor(private readonly repoRoot = process.cwd()) {
    // The project of the running (or stopped) stack; else compose's own default (the checkout's folder), as
    // make prod-local and a plain `docker compose` in the checkout use it, unless COMPOSE_PROJECT_NAME says otherwise.
    this.project =
      projectOf('vault-init') ??
      projectOf('vault') ??
      (process.env.COMPOSE_PROJECT_NAME ||
        path
          .basename(path.resolve(repoRoot))
          .toLowerCase()
          .replace(/[^a-z0-9_-]/g, ''));
    this.name = `compose (project ${this.project})`;
  }

  private docker(args: string[], options: Parameters<typeof exec>[2] = {}): Buffer {
    return exec('docker', args, { what: `docker ${args[0]}`, ...options });
  }

  private serviceId(service: string): string | undefined {
    const res = spawnSync(
      'docker',
      [
        'ps',
        '-aq',
        '--filter',
        `label=com.docker.compose.project=${this.project}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
      ],
      { encoding: 'utf8' },
    );
    return res.status === 0 ? res.stdout.trim().split('\n')[0] || undefined : undefined;
  }

  private exists(container: string): boolean {
    return spawnSync('docker', ['inspect', container], { stdio: 'ignore' }).status === 0;
  }

  private isRunning(container: string): boolean {
    const res = spawnSync('docker', ['inspect', '-f', '{{.State.Running}}', container], { encoding: 'utf8' });
    return res.status === 0 && res.stdout.trim() === 'true';
  }

  private containers(): Record<string, string | undefined> {
    return {
      app: this.serviceId('app'),
      'vault-agent': 'vault-agent',
      'vault-init': 'vault-init',
      vault: 'vault',
      postgres: this.serviceId('postgres'),
    };
  }

  private need(container: string | undefined, service: string): string {
    if (!container || !this.exists(container)) {
      throw new BackupError(
        `the compose stack has no ${service} container. Create the stack first (make prod-local; a fresh one is fine for a restore), then rerun.`,
        2,
      );
    }
    return container;
  }

  async running(): Promise<string[]> {
    return Object.entries(this.containers())
      .filter(([, id]) => id && this.isRunning(id))
      .map(([name]) => name);
  }

  async hasData(): Promise<boolean> {
    return this.exists('vault') || this.exists('vault-init');
  }

  /** Through the published port, as every other API call of the tools (the HA profile's proxy forwards it). */
  async sealStatus(): Promise<SealStatus> {
    return sealStatus(this.vaultApiAddr());
  }

  async watcherRunning(): Promise<boolean> {
    return this.isRunning('vault-init');
  }

  async stopVault(): Promise<void> {
    this.docker(['stop', '-t', '30', this.need('vault', 'vault')]);
  }
  async startVault(): Promise<void> {
    this.docker(['start', 'vault']);
  }

  async copyVaultData(destTar: string): Promise<void> {
    // docker cp's tar has the entries under file/ with the container's owners: repack relative to the root.
    const tmp = workDir(path.dirname(destTar), 'vault-file');
    try {
      exec('docker', ['cp', 'vault:/vault/file', '-'], {
        outFile: path.join(tmp, 'cp.tar'),
        what: 'docker cp vault:/vault/file',
      });
      exec('tar', ['-xf', path.join(tmp, 'cp.tar'), '-C', tmp], { what: 'unpacking docker cp output' });
      exec('tar', ['-cf', destTar, '-C', path.join(tmp, 'file'), '.'], { what: "tar of Vault's data" });
      fs.chmodSync(destTar, 0o600);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** One file of a container (running or stopped): `docker cp` gives a one-member tar, whose member this extracts. */
  private copyOut(container: string, file: string): Buffer {
    const tar = this.docker(['cp', `${container}:${file}`, '-'], { what: `docker cp ${container}:${file}` });
    return exec('tar', ['-xOf', '-', path.posix.basename(file)], {
      input: tar,
      what: `reading ${file} from docker cp output`,
    });
  }

  async readInit(): Promise<Buffer> {
    return this.copyOut(this.need('vault-init', 'vault-init'), '/vault/init/init.json');
  }

  async pgDump(destFile: string, snapshot?: string): Promise<void> {
    const pg = this.need(this.serviceId('postgres'), 'postgres');
    if (snapshot !== undefined && !/^[0-9A-F-]+$/i.test(snapshot))
      throw new BackupError(`not a snapshot id: ${JSON.stringify(snapshot)}`);
    this.docker(
      [
        'exec',
        pg,
        'sh',
        '-c',
        `pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --no-owner --no-acl${snapshot ? ` --snapshot=${snapshot}` : ''}`,
      ],
      { outFile: destFile, what: 'pg_dump in the postgres container' },
    );
  }

  psql(): PsqlSession {
    const pg = this.need(this.serviceId('postgres'), 'postgres');
    return new PsqlSession(
      'docker',
      ['exec', '-i', pg, 'sh', '-c', 'exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"', 'psql'],
      process.env,
      'psql in the postgres container',
    );
  }

  /** The API as the user reaches it: the published port (the HA profile's Vault Proxy forwards to the cluster). */
  vaultApiAddr(): string {
    return `http://127.0.0.1:${fromDotEnv(this.repoRoot, 'VAULT_PORT') ?? '8200'}`;
  }

  /**
   * The CLI in the `vault` container, pointed at the active node: the container's VAULT_ADDR (HA:
   * http://vault-ha:8200) may land on a standby, which answers a snapshot upload with a redirect instead of
   * forwarding it (DirTarget.raftSnapshotRestore follows it by hand); going to the active node does not depend
   * on how the CLI re-sends a streamed body. sys/leader (unauthenticated) names the active node. The token goes in on
   * stdin,
   * never in argv or the container's environment.
   */
  private vaultCli(script: string, token: string, what: string): void {
    // Vault's own CLI in its container, on the container network: the nodes' addresses are not reachable from
    // this machine, so our client cannot follow the active node there. The one Vault call outside our client.
    const leader =
      // eslint-disable-next-line no-restricted-syntax
      'leader=$(wget -q -O - "$VAULT_ADDR/v1/sys/leader" | sed -n \'s/.*"leader_address":"\\([^"]*\\)".*/\\1/p\'); [ -n "$leader" ] && export VAULT_ADDR="$leader"';
    exec(
      'docker',
      [
        'exec',
        '-i',
        this.need('vault', 'vault'),
        'sh',
        '-c',
        `read -r VAULT_TOKEN; export VAULT_TOKEN; ${leader}; ${script}`,
      ],
      { input: `${token}\n`, what },
    );
  }

  async raftSnapshotSave(destFile: string, token: string): Promise<void> {
    const tmp = `/tmp/aurora-backup-${process.pid}-${Date.now()}.snap`;
    try {
      this.vaultCli(
        `umask 077; vault operator raft snapshot save ${tmp}`,
        token,
        'vault operator raft snapshot save (in the vault container)',
      );
      fs.writeFileSync(destFile, this.copyOut('vault', tmp), { mode: 0o600 });
    } finally {
      spawnSync('docker', ['exec', 'vault', 'rm', '-f', tmp], { stdio: 'ignore' });
    }
  }

  async raftSnapshotRestore(file: string, token: string, force: boolean): Promise<void> {
    const tmp = `/tmp/aurora-restore-${process.pid}-${Date.now()}.snap`;
    try {
      this.docker(['cp', file, `vault:${tmp}`], { what: 'docker cp of the snapshot into the vault container' });
      this.vaultCli(
        `vault operator raft snapshot restore${force ? ' -force' : ''} ${tmp}`,
        token,
        `vault operator raft snapshot restore${force ? ' -force' : ''} (in the vault container)`,
      );
    } finally {
      spawnSync('docker', ['exec', 'vault', 'rm', '-f', tmp], { stdio: 'ignore' });
    }
  }

  /**
   * Each node container of the HA profile (vault-1..3, docker-compose.ha.yml) asked with Vault's own CLI inside
   * it: the nodes' addresses are reachable only on the container network. `vault status` exits 0 unsealed, 2
   * sealed, 1 on an error (no answer).
   */
  async raftNodeSealStatuses(): Promise<RaftNodeSeal[]> {
    return ['vault-1', 'vault-2', 'vault-3']
      .filter((node) => this.exists(node))
      .map((node) => {
        const res = spawnSync('docker', ['exec', node, 'vault', 'status', '-address=http://127.0.0.1:8200'], {
          stdio: 'ignore',
          timeout: 10_000,
        });
        return { node, sealed: res.status === 0 ? false : res.status === 2 ? true : undefined };
      });
  }

  async stopForRestore(options: { keepVault?: boolean } = {}): Promise<void> {
    const c = this.containers();
    this.need(c.vault, 'vault');
    this.need(c['vault-init'], 'vault-init');
    const pg = this.need(c.postgres, 'postgres');
    for (const name of [
      'app',
      'vault-agent',
      'vault-init',
      ...(options.keepVault ? [] : (['vault'] as const)),
    ] as const) {
      const id = c[name];
      if (id && this.isRunning(id)) this.docker(['stop', '-t', '30', id]);
    }
    if (!this.isRunning(pg)) this.docker(['start', pg]);
    for (let i = 0; i < 60; i++) {
      if (
        spawnSync('docker', ['exec', pg, 'sh', '-c', 'pg_isready -U "$POSTGRES_USER" -h 127.0.0.1 -q'], {
          stdio: 'ignore',
        }).status === 0
      )
        return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new BackupError('PostgreSQL in the compose stack did not become ready within 30 s');
  }

  /** A throwaway container of `container`'s image with its volumes, as root, no network, stdin = `inputFile`. */
  private helper(container: string, script: string, inputFile: string, what: string): void {
    const image = this.docker(['inspect', '-f', '{{.Config.Image}}', container]).toString('utf8').trim();
    exec(
      'docker',
      [
        'run',
        '--rm',
        '-i',
        '--network',
        'none',
        '--user',
        '0',
        '--volumes-from',
        container,
        '--entrypoint',
        'sh',
        image,
        '-c',
        script,
      ],
      { inputFile, what },
    );
  }

  async putVaultData(tarFile: string): Promise<void> {
    // Empty the volume, unpack, and give everything to the owner of /vault/file (the image's vault user).
    this.helper(
      'vault',
      'set -e; cd /vault/file; rm -rf -- ./* ./.[!.]* ./..?*; tar -xf -; chown -R "$(stat -c %u:%g .)" .',
      tarFile,
      'restoring /vault/file in the vault-data volume',
    );
  }

  async putInit(file: string): Promise<void> {
    this.helper(
      'vault-init',
      'set -e; cd /vault/init; umask 077; cat > init.json.restoring; chown "$(stat -c %u:%g .)" init.json.restoring; chmod 600 init.json.restoring; rm -f init.json.tmp; mv init.json.restoring init.json',
      file,
      'restoring init.json in the vault-init volume',
    );
  }

  async pgRestore(sqlFile: string): Promise<void> {
    const pg = this.need(this.serviceId('postgres'), 'postgres');
    this.docker(
      [
        'exec',
        pg,
        'sh',
        '-c',
        'psql -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS \\"$POSTGRES_DB\\" WITH (FORCE)" -c "CREATE DATABASE \\"$POSTGRES_DB\\""',
      ],
      { what: 'recreating the database' },
    );
    this.docker(
      [
        'exec',
        '-i',
        pg,
        'sh',
        '-c',
        'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -q -o /dev/null --single-transaction',
      ],
      { inputFile: sqlFile, what: 'loading the PostgreSQL dump' },
    );
  }

  private async waitHealthy(container: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = spawnSync(
        'docker',
        ['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', container],
        { encoding: 'utf8' },
      );
      const status = res.stdout?.trim();
      if (status === 'healthy' || status === 'running') return;
      if (Date.now() > deadline)
        throw new BackupError(
          `${container} is not healthy after ${timeoutMs / 1000} s (status ${status}); see docker logs ${container}`,
        );
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async startAfterRestore(): Promise<void> {
    const c = this.containers();
    this.docker(['start', 'vault']);
    this.docker(['start', 'vault-init']);
    // vault-init unseals with the restored init.json and repairs the AppRole/operator credentials the
    // restored Vault does not know (they were issued after the backup).
    await this.waitHealthy('vault-init', 120_000);
    if (c['vault-agent'] && this.exists('vault-agent')) this.docker(['start', 'vault-agent']);
    if (c.app) {
      this.docker(['start', c.app]);
      await this.waitHealthy(c.app, 120_000);
    }
  }

  async doctor(): Promise<DoctorResult> {
    const res = spawnSync(path.join(this.repoRoot, 'scripts', 'doctor.sh'), ['--json'], {
      cwd: this.repoRoot,
      encoding: 'utf8',
      env: { ...process.env, DOCTOR_TARGET: 'compose' },
    });
    if (res.status !== 0 && res.status !== 1)
      throw new BackupError(
        `doctor could not check the restored stack (exit ${res.status}): ${(res.stderr ?? '').trim().slice(0, 1000)}`,
      );
    return parseDoctor(res.stdout);
  }
}
