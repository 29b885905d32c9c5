/**
 * The compose stack as a backup/restore/status target: files move with `docker cp` (stopped containers too)
 * and a throwaway helper container on the service's own volumes (`--volumes-from`), PostgreSQL through
 * `docker exec`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BackupError, workDir } from './archive.js';
import { pgPassLine, scramVerifier, type PgLogin } from './database-login.js';
import { RECREATE_PUBLIC_SCHEMA } from './dir-target.js';
import { parseDoctor, type DoctorResult } from './doctor-report.js';
import { fromDotEnv } from './dot-env.js';
import { exec } from './run-command.js';
import type { RaftNodeSeal, StackTarget } from './stack-target.js';
import { sealStatus, type SealStatus } from './vault-api.js';
import { PsqlSession } from './write-barrier.js';

/**
 * Runs `command` in the postgres container as the leased user `$1`, with a libpq password file made from the
 * first line of stdin (0600, in the container's /tmp, removed when the command ends): the password goes neither
 * into an argument nor into an environment. The rest of stdin stays for the command.
 */
const AS_LEASED_USER = (command: string): string =>
  `set -e; u=$1; shift; f=$(mktemp); trap 'rm -f "$f"' EXIT; IFS= read -r l; printf '%s\n' "$l" > "$f"; ` +
  `PGPASSFILE="$f" PGUSER="$u" ${command}`;

/** Where the postgres container keeps the generated bootstrap password (docker-compose.yml). */
const BOOTSTRAP_PASSWORD_FILE = '/run/postgres-password/superuser-password';

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

  /** The CLI's operator token in the vault-cli volume, read through vault-init's container (running or not). */
  async operatorToken(): Promise<string | undefined> {
    try {
      return this.copyOut('vault-init', '/vault/cli/.vault-token').toString('utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * `command` (a shell line) in the postgres container as `login`, or, without one, as its POSTGRES_USER over
   * the local socket (a stack without the database engine); with the arguments `args` after it.
   */
  private pgExec(command: string, login: PgLogin | undefined, args: string[] = []): { argv: string[]; first: string } {
    const pg = this.need(this.serviceId('postgres'), 'postgres');
    if (!login)
      return { argv: ['exec', '-i', pg, 'sh', '-c', `PGUSER="$POSTGRES_USER" ${command}`, 'sh', ...args], first: '' };
    return {
      argv: ['exec', '-i', pg, 'sh', '-c', AS_LEASED_USER(command), 'sh', login.username, ...args],
      first: pgPassLine(login),
    };
  }

  async pgDump(destFile: string, login: PgLogin | undefined, snapshot?: string): Promise<void> {
    if (snapshot !== undefined && !/^[0-9A-F-]+$/i.test(snapshot))
      throw new BackupError(`not a snapshot id: ${JSON.stringify(snapshot)}`);
    const { argv, first } = this.pgExec(
      `pg_dump -w -d "$POSTGRES_DB" --no-owner --no-acl${snapshot ? ` --snapshot=${snapshot}` : ''}`,
      login,
    );
    this.docker(argv, { input: first, outFile: destFile, what: 'pg_dump in the postgres container' });
  }

  psql(login: PgLogin | undefined): PsqlSession {
    const { argv, first } = this.pgExec('psql -w -d "$POSTGRES_DB" "$@"', login);
    return new PsqlSession('docker', argv, process.env, 'psql in the postgres container', { stdinFirst: first });
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

  async pgRestore(sqlFile: string, login: PgLogin | undefined): Promise<void> {
    const { argv, first } = this.pgExec(
      'psql -w -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -q -o /dev/null --single-transaction -c "$1" -f -',
      login,
      [RECREATE_PUBLIC_SCHEMA],
    );
    this.docker(argv, {
      input: Buffer.concat([Buffer.from(first), fs.readFileSync(sqlFile)]),
      what: 'loading the PostgreSQL dump',
    });
  }

  /**
   * psql over the container's local socket as POSTGRES_USER: the image's own way in for whoever may `docker
   * exec` (initdb's default `trust` for local connections inside the container), then the new password into the
   * postgres-password volume, 0400 for vault-init's uid as the container writes it at its first start.
   */
  async resetDatabaseAdmin(password: string): Promise<void> {
    const pg = this.need(this.serviceId('postgres'), 'postgres');
    this.docker(
      ['exec', '-i', pg, 'sh', '-c', 'exec psql -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 -qAtX -f -'],
      {
        input: `ALTER ROLE CURRENT_USER PASSWORD '${scramVerifier(password)}';\n`,
        what: "setting PostgreSQL's superuser password",
      },
    );
    this.docker(
      [
        'exec',
        '-i',
        pg,
        'sh',
        '-c',
        `set -e; f=${BOOTSTRAP_PASSWORD_FILE}; umask 077; cat > "$f.tmp"; chown 1000:1000 "$f.tmp"; chmod 0400 "$f.tmp"; mv "$f.tmp" "$f"`,
      ],
      { input: `${password}\n`, what: 'writing the bootstrap password into the postgres-password volume' },
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
      env: { ...process.env, AURORA_STACK: 'compose' },
    });
    if (res.status !== 0 && res.status !== 1)
      throw new BackupError(
        `doctor could not check the stack (exit ${res.status}): ${(res.stderr ?? '').trim().slice(0, 1000)}`,
      );
    return parseDoctor(res.stdout);
  }
}
