// User story: as a developer running `make native`, I get the stack with no static database password: the
// cluster's generated superuser password is handed to Vault's database secrets engine and rotated at once (the
// file's value no longer logs in), the app runs on users leased from Vault, and no process of the stack, no log
// and no dump holds a database password in clear.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import { runAsMaintenanceUser } from '../support/database-scene.js';
import { processTraces } from '../support/leaks.js';
import { freePort, pgPassFile, postgresBinDir, repoRoot, tempDir, TSX_NODE_ARGS } from '@aurora/process';

describe('make native: database users from Vault, no static password', () => {
  let native: string;
  let env: Record<string, string>;
  let vaultAddr: string;
  let pgPort: number;
  let bootstrap: string;
  let root: VaultClient;
  let printed = '';
  const issued: string[] = [];

  const nativeTs = (cmd: string) =>
    spawnSync(process.execPath, [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', 'native.ts'), cmd], {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, ...env },
    });
  /** psql as `user` with the libpq password file `passFile`. */
  const psql = (user: string, passFile: string, sql: string) =>
    spawnSync(path.join(postgresBinDir(), 'psql'), ['-w', '-Atc', sql], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PGHOST: '127.0.0.1',
        PGPORT: String(pgPort),
        PGDATABASE: 'aurora',
        PGUSER: user,
        PGPASSFILE: passFile,
        PGPASSWORD: '',
      },
    });

  before(async () => {
    const dir = tempDir('native-db-users');
    fs.chmodSync(dir, 0o755); // the postgres user (root runs the cluster as postgres) must reach .native/postgres
    native = path.join(dir, 'native');
    pgPort = await freePort();
    const vaultPort = await freePort();
    vaultAddr = `http://127.0.0.1:${vaultPort}`;
    env = {
      NATIVE_DIR: native,
      NATIVE_VAULT_PORT: String(vaultPort),
      NATIVE_PG_PORT: String(pgPort),
      NATIVE_VAULT_INIT_HEALTH_PORT: String(await freePort()),
      APP_PORT: String(await freePort()),
      APP_METRICS_PORT: String(await freePort()),
    };
    const up = nativeTs('up');
    assert.equal(up.status, 0, `native.ts up: ${up.stderr.slice(-3000)}`);
    printed = up.stdout;
    bootstrap = fs.readFileSync(path.join(native, 'postgres', 'superuser-password'), 'utf8').trim();
    const init = JSON.parse(fs.readFileSync(path.join(native, 'init', 'init.json'), 'utf8')) as { root_token: string };
    root = new VaultClient({ addr: vaultAddr, token: init.root_token, timeoutMs: 10_000 });
  });

  after(() => {
    if (env) nativeTs('down');
  });

  test('vault-init configured the database engine and Vault rotated the bootstrap password away', async () => {
    const connection = await root.database().readConnection('aurora');
    assert.ok(connection, 'database/config/aurora exists');
    assert.equal(connection.connection_details.username, 'postgres');
    const dead = psql('postgres', pgPassFile(path.join(native, 'postgres', 'data')), 'SELECT 1');
    assert.notEqual(dead.status, 0, 'the generated bootstrap password still logs in');
    assert.match(dead.stderr, /password authentication failed/);
  });

  test('the app runs on users leased from Vault: no user or password in its settings', async () => {
    const appEnv = fs.readFileSync(path.join(native, 'app.env'), 'utf8');
    assert.match(appEnv, /^PG_VAULT_ROLE=aurora-app$/m);
    assert.doesNotMatch(appEnv, /^PG(USER|PASSWORD|PASSWORD_FILE)=/m);
    assert.match(
      fs.readFileSync(path.join(native, 'logs', 'app.log'), 'utf8'),
      /PostgreSQL pool moved to a new leased user/,
    );
    assert.equal((await fetch(`http://127.0.0.1:${env.APP_PORT}/readyz`)).status, 200);
  });

  test('an operator gets a maintenance user with the CLI token; a pg_dump holds no password or hash', async () => {
    const operator = fs.readFileSync(path.join(native, 'cli', '.vault-token'), 'utf8').trim();
    const vault = new VaultClient({ addr: vaultAddr, token: operator, timeoutMs: 10_000 });
    const target = { host: '127.0.0.1', port: pgPort, database: 'aurora' };
    const { stdout: dump, password } = await runAsMaintenanceUser(vault, target, 'pg_dump', ['aurora']);
    issued.push(password);
    assert.match(dump, /credential_references/);
    for (const s of [bootstrap, ...issued]) assert.ok(!dump.includes(s));
    assert.doesNotMatch(dump, /SCRAM-SHA-256\$|PASSWORD '/i);
  });

  test('the commands `make native` prints work as printed: vault status, a psql session as a leased user', () => {
    const use = /Use them:\s+(source \S+)\s+then\s+(vault status)$/m.exec(printed);
    const lease = /psql:\s+(vault read database\/creds\/\S+)\s+then\s+psql -U <username>/.exec(printed);
    assert.ok(use && lease, `the banner names the env file and the psql path:\n${printed}`);
    const [, source = '', vaultStatus = ''] = use;
    const [, leaseCommand = ''] = lease;
    // Literally what a user types, from the repository root, in a shell with nothing of ours set.
    const shell = (script: string, extra: Record<string, string> = {}) =>
      spawnSync('bash', ['-c', `set -e; ${source}; ${script}`], {
        cwd: repoRoot(),
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', HOME: tempDir('native-user-home'), ...extra },
      });
    const status = shell(vaultStatus);
    assert.equal(status.status, 0, `vault status: ${status.stderr}`);
    assert.match(status.stdout, /Sealed\s+false/);
    const read = shell(`${leaseCommand} -format=json`);
    assert.equal(read.status, 0, `${leaseCommand}: ${read.stderr}`);
    const creds = (JSON.parse(read.stdout) as { data: { username: string; password: string } }).data;
    issued.push(creds.password);
    // "password when asked": psql reads PGPASSWORD the same way, without a terminal.
    // The maintenance user acts as the tables' owner role (SET ROLE at login): session_user is who logged in.
    const session = shell(`psql -U "$U" -w -Atc 'SELECT session_user, count(*) >= 0 FROM credential_references'`, {
      U: creds.username,
      PGPASSWORD: creds.password,
    });
    assert.equal(session.status, 0, `psql -U ${creds.username}: ${session.stderr}`);
    assert.equal(session.stdout.trim(), `${creds.username}|t`);
  });

  test('no process of the stack has a database password in its environment or command line; the logs neither', () => {
    const run = path.join(native, 'run');
    const names = fs.readdirSync(run).map((f) => f.replace(/\.pid$/, ''));
    assert.deepEqual([...names].sort(), ['app', 'postgres', 'vault', 'vault-agent', 'vault-init']);
    for (const name of names) {
      const traces = processTraces(Number(fs.readFileSync(path.join(run, `${name}.pid`), 'utf8')));
      assert.ok(traces.length > 1, `${name}'s /proc entries are readable`);
      for (const s of [bootstrap, ...issued]) assert.ok(!traces.includes(s), `${name}: a database password`);
      assert.doesNotMatch(traces, /PGPASSWORD=[^\0]/, `${name}: a PGPASSWORD value`);
    }
    for (const file of fs.readdirSync(path.join(native, 'logs'))) {
      const log = fs.readFileSync(path.join(native, 'logs', file), 'utf8');
      for (const s of [bootstrap, ...issued]) assert.ok(!log.includes(s), `${file}: a database password`);
      // Redacted by our logger, HMAC'd by Vault's audit device.
      assert.doesNotMatch(log, /"password":"(?!\[REDACTED\]|hmac-sha256:)/, file);
      assert.doesNotMatch(log, /SCRAM-SHA-256\$/, file);
    }
  });
});
