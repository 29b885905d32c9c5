// User story: as the team, docker-compose.yml keeps the promises of docs/architecture.md and relies on its
// images for nothing beyond vault/offline/contract.json, so that the official images and the offline builds
// (aurora-offline/*) are interchangeable. Runs without an engine: it only reads files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '@aurora/process';

interface Healthcheck {
  test?: string[] | string;
}
interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  container_name?: string;
  command?: string[] | string;
  user?: string;
  init?: boolean;
  environment?: Record<string, string | number | null> | string[];
  volumes?: string[];
  tmpfs?: string[];
  ports?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }> | string[];
}
interface ImageContract {
  imageVariable: string;
  official: string;
  offline: string;
  commands: string[];
  environment: Record<string, string>;
  paths: Record<string, string>;
  tools: string[];
  /** The image's VOLUME paths. */
  volumes: string[];
}
type Family = 'vault' | 'postgres' | 'node';

const root = repoRoot();
const read = (p: string): string => fs.readFileSync(path.join(root, p), 'utf8');
const compose = parse(read('docker-compose.yml')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const contract = JSON.parse(read('vault/offline/contract.json')) as Record<Family, ImageContract>;
const envExample = read('.env.example');
const architecture = read('docs/architecture.md');
const vaultVersion = read('vault/VERSION').trim();

function env(s: Service): Record<string, string> {
  if (!s.environment) return {};
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(
      s.environment.map((e) => {
        const i = e.indexOf('=');
        return [e.slice(0, i), e.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `${VAR:-default}` → [VAR, default]; anything else → undefined. */
function variableWithDefault(value: string | undefined): [string, string] | undefined {
  const m = /^\$\{(\w+):-([^}]+)\}$/.exec(value ?? '');
  return m ? [m[1]!, m[2]!] : undefined;
}

/** Named-volume mounts of a service as {volume, target}; bind mounts (./...) are left out. */
function namedMounts(s: Service): { volume: string; target: string }[] {
  return (s.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([src]) => !src!.startsWith('.') && !src!.startsWith('/'))
    .map(([volume, target]) => ({ volume: volume!, target: target! }));
}
const targets = (s: Service): string[] => (s.volumes ?? []).map((v) => v.split(':')[1]!);

/**
 * The image's VOLUME paths that `mounts` (a service's volume targets and tmpfs paths) leave bare: Docker gives
 * each an anonymous volume per container, which `docker compose down` without -v leaves behind.
 */
function anonymousVolumes(f: Family, mounts: string[]): string[] {
  return contract[f].volumes.filter((v) => !mounts.includes(v));
}

function dependsOn(s: Service): Record<string, string> {
  if (!s.depends_on) return {};
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(s.depends_on).map(([k, v]) => [k, v.condition]));
}

function family(s: Service): Family {
  if (s.build) return 'node';
  const v = variableWithDefault(s.image);
  for (const f of ['vault', 'postgres'] as const) if (v?.[0] === contract[f].imageVariable) return f;
  throw new Error(`image ${s.image} is neither built nor named through VAULT_IMAGE/POSTGRES_IMAGE`);
}

/** The program a CMD / CMD-SHELL healthcheck runs. */
function healthTool(h: Healthcheck | undefined): string | undefined {
  const t = h?.test;
  if (!Array.isArray(t)) return undefined;
  if (t[0] === 'CMD') return t[1];
  if (t[0] === 'CMD-SHELL') return t[1]?.trim().split(/\s+/)[0];
  return undefined;
}

/** The default of a commented `# VAR=value` line in .env.example. */
function envExampleDefault(name: string): string | undefined {
  return new RegExp(`^#?\\s*${name}=(.*)$`, 'm').exec(envExample)?.[1]?.trim();
}

describe('docker-compose.yml: the services and how they start', () => {
  test('has the five services of the design', () => {
    assert.deepEqual(Object.keys(services).sort(), ['app', 'postgres', 'vault', 'vault-agent', 'vault-init']);
  });

  test('every service has a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      assert.ok(healthTool(s.healthcheck), `${name} has no CMD healthcheck`);
    }
  });

  test('depends_on waits for health where the design says so', () => {
    // Vault is healthy only once vault-init has unsealed it: vault-init waits for its API by itself.
    assert.equal(dependsOn(services['vault-init']!).vault, 'service_started');
    assert.equal(dependsOn(services.app!).postgres, 'service_healthy');
    assert.equal(dependsOn(services.app!)['vault-init'], 'service_healthy');
    assert.equal(dependsOn(services['vault-agent']!)['vault-init'], 'service_healthy');
  });

  test("vault's healthcheck means it serves: sealed (503) and uninitialized (501) are not healthy", () => {
    const url = (services.vault!.healthcheck!.test as string[]).find((a) => a.includes('/v1/sys/health'));
    assert.ok(url, 'the healthcheck asks sys/health');
    assert.doesNotMatch(url, /sealedcode|uninitcode/, `${url} would call a sealed Vault healthy`);
  });

  test('container names vault and vault-init are fixed (the user runs `docker exec vault`, `docker logs vault-init`)', () => {
    assert.equal(services.vault!.container_name, 'vault');
    assert.equal(services['vault-init']!.container_name, 'vault-init');
  });

  test('node services run with init: true (node as PID 1 would ignore SIGTERM and stall `down`)', () => {
    for (const [name, s] of Object.entries(services)) {
      if (family(s) === 'node') assert.equal(s.init, true, `${name} lacks init: true`);
    }
  });

  test('published ports bind 127.0.0.1 by default', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        assert.match(p, /^(\$\{BIND_ADDRESS:-127\.0\.0\.1\}|127\.0\.0\.1):/, `${name} publishes ${p} beyond loopback`);
      }
    }
    assert.equal(envExampleDefault('BIND_ADDRESS'), '127.0.0.1');
  });

  test('every published host port is a documented *_PORT setting, which make prod-local checks before it starts', () => {
    const prodLocal = read('scripts/prod-local.sh');
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        // prod-local.sh's published_port_settings reads exactly this shape from the compose files.
        const m = /^[^:]+:\$\{(\w+_PORT):-(\d+)\}:\d+$/.exec(
          p.replace(/^\$\{BIND_ADDRESS:-127\.0\.0\.1\}/, '127.0.0.1'),
        );
        assert.ok(m, `${name} publishes ${p}: not a \${X_PORT:-default} setting, so make prod-local cannot check it`);
        assert.equal(envExampleDefault(m[1]!), m[2], `.env.example documents ${m[1]} with its default`);
      }
    }
    assert.match(prodLocal, /conflicts=\$\(port_conflicts\)/);
  });

  test('no top-level `name:` (docker-compose 1.29 rejects it)', () => {
    assert.equal((compose as Record<string, unknown>).name, undefined);
  });
});

describe('docker-compose.yml: images default to the official ones, pinned in one place', () => {
  test('image variables default to the official images', () => {
    assert.deepEqual(variableWithDefault(services.vault!.image), ['VAULT_IMAGE', `hashicorp/vault:${vaultVersion}`]);
    assert.deepEqual(variableWithDefault(services['vault-agent']!.image), [
      'VAULT_IMAGE',
      `hashicorp/vault:${vaultVersion}`,
    ]);
    const pg = variableWithDefault(services.postgres!.image);
    assert.equal(pg?.[0], 'POSTGRES_IMAGE');
    assert.match(pg![1], /^postgres:15(\.\d+)?(-bookworm)?$/);
    for (const [name, s] of Object.entries(services)) {
      if (!s.build) continue;
      const arg = variableWithDefault(s.build.args?.NODE_IMAGE);
      assert.equal(arg?.[0], 'NODE_IMAGE', `${name} does not take NODE_IMAGE as a build arg`);
      assert.match(arg![1], /^node:\d+\.\d+\.\d+-bookworm-slim$/);
    }
  });

  test('the Vault tag equals vault/VERSION', () => {
    assert.equal(variableWithDefault(services.vault!.image)![1].split(':')[1], vaultVersion);
  });

  test('.env.example documents the same image defaults', () => {
    assert.equal(envExampleDefault('VAULT_IMAGE'), variableWithDefault(services.vault!.image)![1]);
    assert.equal(envExampleDefault('POSTGRES_IMAGE'), variableWithDefault(services.postgres!.image)![1]);
    const nodeDefault = variableWithDefault(services['vault-init']!.build!.args!.NODE_IMAGE)![1];
    assert.equal(envExampleDefault('NODE_IMAGE'), nodeDefault);
  });

  test('the offline build and prod-local.sh pin the same versions as compose', () => {
    const nodeDefault = variableWithDefault(services['vault-init']!.build!.args!.NODE_IMAGE)![1];
    const nodeVersion = /^node:(\d+\.\d+\.\d+)-/.exec(nodeDefault)![1]!;
    const images = read('scripts/images-offline.sh');
    assert.match(images, new RegExp(`^NODE_VERSION=${nodeVersion.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(images, /^VAULT_VERSION=\$\(cat vault\/VERSION\)$/m);
    assert.match(images, /^PG_MAJOR=15$/m);
    const prodLocal = read('scripts/prod-local.sh');
    assert.ok(prodLocal.includes(`OFFICIAL_NODE=${nodeDefault}`), 'prod-local.sh OFFICIAL_NODE differs from compose');
    assert.ok(
      prodLocal.includes(`OFFICIAL_POSTGRES=${variableWithDefault(services.postgres!.image)![1]}`),
      'prod-local.sh OFFICIAL_POSTGRES differs',
    );
    assert.ok(
      prodLocal.includes(`OFFLINE_NODE=aurora-offline/node:${nodeVersion}`),
      'prod-local.sh OFFLINE_NODE differs',
    );
  });

  test('local builds never carry an official image name', () => {
    for (const f of ['vault', 'postgres', 'node'] as const) {
      assert.match(contract[f].offline, /^aurora-offline\//);
    }
    for (const [name, s] of Object.entries(services)) {
      if (s.build) assert.match(s.image ?? '', /^aurora\//, `${name} tags its build with a name that is not ours`);
    }
  });
});

describe('docker-compose.yml: volumes and paths agree with docs/architecture.md and .env.example', () => {
  test('the vault-init volume (unseal keys, root token) is mounted into vault-init only', () => {
    for (const [name, s] of Object.entries(services)) {
      const mounted = namedMounts(s).some((m) => m.volume === 'vault-init');
      assert.equal(
        mounted,
        name === 'vault-init',
        `vault-init volume ${mounted ? 'mounted into' : 'missing from'} ${name}`,
      );
    }
  });

  test("vault-init's directories are the documented defaults, and each is a volume mount", () => {
    const e = env(services['vault-init']!);
    const mounts = Object.fromEntries(namedMounts(services['vault-init']!).map((m) => [m.target, m.volume]));
    for (const [name, volume] of [
      ['VAULT_INIT_DIR', 'vault-init'],
      ['VAULT_OPERATOR_TOKEN_DIR', 'vault-cli'],
    ] as const) {
      assert.equal(e[name], envExampleDefault(name), `${name} differs from .env.example`);
      assert.equal(mounts[e[name]!], volume, `${name}=${e[name]} is not the ${volume} volume`);
    }
    assert.equal(e.VAULT_APPROLE_DIR, envExampleDefault('VAULT_APPROLE_DIR'));
    assert.equal(mounts[`${e.VAULT_APPROLE_DIR}/app`], 'app-approle');
    assert.equal(mounts[`${e.VAULT_APPROLE_DIR}/agent`], 'agent-approle');
    assert.equal(e.VAULT_AUDIT_FILE, envExampleDefault('VAULT_AUDIT_FILE'));
    assert.ok(architecture.includes(`${e.VAULT_INIT_DIR}/init.json`));
    assert.ok(architecture.includes(`${e.VAULT_OPERATOR_TOKEN_DIR}/.vault-token`));
    assert.ok(architecture.includes(e.VAULT_AUDIT_FILE!));
  });

  test('the audit log directory is the vault-logs volume of the vault container', () => {
    const audit = env(services['vault-init']!).VAULT_AUDIT_FILE!;
    const mounts = namedMounts(services.vault!);
    assert.ok(mounts.some((m) => m.volume === 'vault-logs' && audit.startsWith(`${m.target}/`)));
  });

  test("the operator token reaches the CLI's token helper: vault-cli is $HOME of `docker exec vault vault ...`", () => {
    // docker exec runs as root with the container's HOME (root's /root unless compose sets HOME); the token
    // helper reads $HOME/.vault-token, which vault-init writes as $VAULT_OPERATOR_TOKEN_DIR/.vault-token.
    const home = env(services.vault!).HOME ?? '/root';
    assert.ok(
      namedMounts(services.vault!).some((m) => m.volume === 'vault-cli' && m.target === home),
      `the vault-cli volume is not mounted at the CLI's HOME (${home}) in vault`,
    );
    const tokenDir = env(services['vault-init']!).VAULT_OPERATOR_TOKEN_DIR!;
    assert.ok(namedMounts(services['vault-init']!).some((m) => m.volume === 'vault-cli' && m.target === tokenDir));
  });

  test("Vault's data is the vault-data volume at /vault/file, the storage path of vault/config/vault.hcl", () => {
    assert.ok(namedMounts(services.vault!).some((m) => m.volume === 'vault-data' && m.target === '/vault/file'));
    assert.match(read('vault/config/vault.hcl'), /path\s*=\s*"\/vault\/file"/);
  });

  test('the app and the agent read the AppRole directories vault-init writes', () => {
    const app = env(services.app!);
    assert.ok(namedMounts(services.app!).some((m) => m.volume === 'app-approle' && m.target === app.VAULT_APPROLE_DIR));
    assert.ok(
      namedMounts(services['vault-agent']!).some(
        (m) => m.volume === 'agent-approle' && m.target === '/vault/approle/agent',
      ),
    );
    assert.ok(
      namedMounts(services['vault-agent']!).some(
        (m) => m.volume === 'vault-secrets' && m.target === '/run/vault-secrets',
      ),
    );
    assert.ok(architecture.includes('/run/vault-secrets/'));
    assert.equal(app.SECRETS_CONFIG, envExampleDefault('SECRETS_CONFIG'));
    assert.ok(targets(services.app!).includes(app.SECRETS_CONFIG!));
  });

  test('every named volume used is declared, and every declared one is used', () => {
    const used = new Set(Object.values(services).flatMap((s) => namedMounts(s).map((m) => m.volume)));
    assert.deepEqual([...used].sort(), Object.keys(compose.volumes).sort());
  });
});

describe('docker-compose.yml relies on its images for nothing beyond vault/offline/contract.json', () => {
  for (const [name, s] of Object.entries(services)) {
    test(`${name}: command, environment, healthcheck tool and mount points are in the ${family(s)} image contract`, () => {
      const c = contract[family(s)];
      assert.ok(
        c.tools.includes(healthTool(s.healthcheck)!),
        `${name}'s healthcheck runs ${healthTool(s.healthcheck)}, not in ${c.tools}`,
      );
      if (family(s) === 'node') {
        assert.deepEqual(
          Object.keys(s.build!.args ?? {}),
          ['NODE_IMAGE'],
          `${name} passes build args the node contract does not know`,
        );
        return;
      }
      const cmd = Array.isArray(s.command) ? s.command[0] : s.command?.split(/\s+/)[0];
      if (cmd !== undefined) assert.ok(c.commands.includes(cmd), `${name} runs '${cmd}', not in ${c.commands}`);
      for (const key of Object.keys(env(s))) {
        assert.ok(key in c.environment, `${name} sets ${key}, which the ${family(s)} contract does not list`);
      }
      assert.deepEqual(
        anonymousVolumes(family(s), [...targets(s), ...(s.tmpfs ?? [])]),
        [],
        `${name} leaves image volumes bare: each container gets anonymous volumes that \`make down\` leaves behind`,
      );
      const known = Object.keys(c.paths);
      for (const t of targets(s)) {
        // A target is either a path the image gives meaning to, or a new mount point that Docker creates.
        const inside = known.find((k) => t !== k && t.startsWith(`${k}/`));
        assert.ok(known.includes(t) || !inside, `${name} mounts ${t} inside ${inside}, which the image owns`);
      }
    });
  }

  test('the offline Dockerfiles and entrypoints implement every path and variable of the contract', () => {
    for (const f of ['vault', 'postgres'] as const) {
      const dir = `vault/offline/${f}`;
      const text = read(`${dir}/Dockerfile`) + read(`${dir}/docker-entrypoint.sh`);
      for (const p of Object.keys(contract[f].paths)) {
        if (p !== '/root') assert.ok(text.includes(p), `${dir} does not mention ${p}`);
      }
      for (const [v, why] of Object.entries(contract[f].environment)) {
        if (why.startsWith('read by the vault binary')) continue;
        // X_FILE is the entrypoint's generic `file_env X` (the official image's helper of the same name).
        const handled = v.endsWith('_FILE') ? text.includes(`file_env ${v.slice(0, -5)}`) : text.includes(v);
        assert.ok(handled, `${dir} does not handle ${v}`);
      }
    }
    for (const f of ['vault', 'postgres', 'node'] as const) {
      const declared = [...read(`vault/offline/${f}/Dockerfile`).matchAll(/^VOLUME\s+(.+)$/gm)].flatMap((m) =>
        m[1]!.trim().split(/\s+/),
      );
      assert.deepEqual(declared.sort(), [...contract[f].volumes].sort(), `vault/offline/${f}/Dockerfile's VOLUMEs`);
    }
    assert.match(read('vault/offline/vault/Dockerfile'), /\bwget\b/);
    assert.match(read('vault/offline/node/Dockerfile'), /npm-cli\.js \/usr\/local\/bin\/npm/);
    assert.match(read('vault/offline/node/Dockerfile'), /--uid 1000/);
  });

  test('no file of the offline build names a registry host', () => {
    const files = [
      'scripts/images-offline.sh',
      'scripts/prod-local.sh',
      'scripts/ensure-docker.sh',
      ...['vault', 'postgres', 'node'].flatMap((f) =>
        fs.readdirSync(path.join(root, 'vault/offline', f)).map((n) => `vault/offline/${f}/${n}`),
      ),
    ];
    for (const f of files) {
      assert.doesNotMatch(
        read(f),
        /\b(registry[.-]|docker\.io\/|deb\.debian\.org|npmjs\.(org|com))/,
        `${f} names a registry host`,
      );
    }
  });
});

describe('docker-compose.ha.yml: the HA profile (make prod-local-ha) on top of docker-compose.yml', () => {
  interface HaService extends Service {
    profiles?: string[];
    networks?: Record<string, { aliases?: string[] }>;
    logging?: { driver?: string; options?: Record<string, string> };
  }
  const ha = parse(read('docker-compose.ha.yml')) as {
    services: Record<string, HaService>;
    volumes: Record<string, unknown>;
  };
  const nodes = ['vault-1', 'vault-2', 'vault-3'];
  const nodeAddr = (n: string) => `http://${n}:8200`;

  test('three Vault nodes, profile "ha", the same image as vault, each with its own config and data volume', () => {
    const dataVolumes = new Set<string>();
    for (const [i, name] of nodes.entries()) {
      const s = ha.services[name];
      assert.ok(s, `${name} is missing`);
      assert.deepEqual(s.profiles, ['ha']);
      assert.equal(s.image, services.vault!.image);
      assert.equal(s.container_name, name);
      assert.deepEqual(s.command, ['server', `-config=/vault/config-ha/node-${i + 1}.hcl`]);
      assert.ok(targets(s).includes('/vault/config-ha'));
      const data = namedMounts(s).find((m) => m.target === '/vault/file');
      assert.ok(data, `${name} has no named volume at /vault/file`);
      dataVolumes.add(data.volume);
      // The audit log is the node's output (vault-init cannot mount three volumes at one path to empty them):
      // Docker must rotate it, or it grows until the disk is full.
      assert.ok(!targets(s).includes('/vault/logs'), `${name} writes its audit log to a volume no one rotates`);
      assert.equal(s.logging?.driver, 'json-file', `${name}'s output (its audit log) is not rotated by Docker`);
      assert.ok(s.logging?.options?.['max-size'] && s.logging.options['max-file'], `${name}'s log has no size bound`);
      assert.deepEqual(s.networks?.default?.aliases, ['vault-ha'], `${name} lacks the vault-ha alias`);
      assert.ok(healthTool(s.healthcheck), `${name} has no CMD healthcheck`);
      const url = (s.healthcheck!.test as string[]).find((a) => a.includes('/v1/sys/health'));
      assert.ok(url && !/sealedcode|uninitcode/.test(url), `${name}'s healthcheck would call a sealed node healthy`);
      assert.ok(!(name in services), `${name} must not exist in the single-node file`);
    }
    assert.equal(dataVolumes.size, 3, 'every node has its own data volume');
  });

  test('vault/config-ha/node-<n>.hcl: raft at /vault/file, its node_id, no retry_join, its own addresses', () => {
    for (const [i, name] of nodes.entries()) {
      const hcl = read(`vault/config-ha/node-${i + 1}.hcl`);
      assert.match(hcl, /storage "raft" \{/);
      assert.match(hcl, /path\s*=\s*"\/vault\/file"/);
      assert.match(hcl, new RegExp(`node_id\\s*=\\s*"${name}"`));
      // vault-init joins every node; a retry_join block would race it and can leave the node's next unseal hanging.
      assert.doesNotMatch(hcl.replace(/#.*$/gm, ''), /retry_join|leader_api_addr/, `${name} must not carry retry_join`);
      assert.match(hcl, new RegExp(`^api_addr\\s*=\\s*"${nodeAddr(name)}"`, 'm'));
      assert.match(hcl, new RegExp(`^cluster_addr\\s*=\\s*"https://${name}:8201"`, 'm'));
      assert.match(hcl, /^disable_mlock\s*=\s*true/m);
      assert.match(hcl, /^ui\s*=\s*true/m);
    }
  });

  test('vault-init gets every node (VAULT_HA_ADDRS) and waits for each; the app and the agent use the vault-ha alias', () => {
    const init = ha.services['vault-init']!;
    assert.equal(env(init).VAULT_HA_ADDRS, nodes.map(nodeAddr).join(','));
    assert.equal(env(init).VAULT_AUDIT_FILE, 'stdout', "the nodes' audit log is not their (rotated) output");
    // A node is healthy only once vault-init has joined and unsealed it: vault-init waits for the API by itself.
    for (const n of nodes) assert.equal(dependsOn(init)[n], 'service_started', `vault-init does not wait for ${n}`);
    for (const s of ['app', 'vault-agent', 'vault-init', 'vault']) {
      assert.equal(env(ha.services[s]!).VAULT_ADDR, 'http://vault-ha:8200', `${s} does not use http://vault-ha:8200`);
    }
    assert.match(read('.env.example'), /VAULT_HA_ADDRS/);
  });

  test('the vault container becomes a Vault Proxy to the cluster (the CLI, the UI port and the healthcheck keep working)', () => {
    const v = ha.services.vault!;
    assert.deepEqual(v.command, ['vault', 'proxy', '-config=/vault/config-ha/proxy.hcl']);
    assert.ok(contract.vault.commands.includes('vault'));
    assert.match(read('vault/config-ha/proxy.hcl'), /address\s*=\s*"http:\/\/vault-ha:8200"/);
    for (const n of nodes) assert.equal(dependsOn(v)[n], 'service_started');
  });

  test('only names, variables and mount points the vault image contract allows', () => {
    for (const [name, s] of Object.entries(ha.services)) {
      const cmd = Array.isArray(s.command) ? s.command[0] : undefined;
      if (cmd !== undefined) assert.ok(contract.vault.commands.includes(cmd), `${name} runs '${cmd}'`);
      if (!nodes.includes(name)) continue;
      for (const key of Object.keys(env(s))) assert.ok(key in contract.vault.environment, `${name} sets ${key}`);
      const known = Object.keys(contract.vault.paths);
      for (const t of targets(s)) {
        const inside = known.find((k) => t !== k && t.startsWith(`${k}/`));
        assert.ok(known.includes(t) || !inside, `${name} mounts ${t} inside ${inside}, which the image owns`);
      }
    }
  });

  test("every HA volume used is declared in one of the two files, the nodes' only in the HA file; no top-level name", () => {
    const used = new Set(Object.values(ha.services).flatMap((s) => namedMounts(s).map((m) => m.volume)));
    const haOnly = [...used].filter((v) => !(v in compose.volumes));
    assert.deepEqual(haOnly.sort(), Object.keys(ha.volumes).sort());
    for (const n of nodes)
      for (const m of namedMounts(ha.services[n]!))
        assert.ok(!(m.volume in compose.volumes), `${n} shares ${m.volume}`);
    assert.equal((ha as Record<string, unknown>).name, undefined);
  });

  test('no HA container gets an anonymous volume (both files merged, as compose merges mounts by path)', () => {
    for (const [name, s] of Object.entries(ha.services)) {
      const base = services[name];
      const mounts = [...targets(s), ...(s.tmpfs ?? []), ...(base ? [...targets(base), ...(base.tmpfs ?? [])] : [])];
      const f = family(s.image || s.build ? s : base!);
      assert.deepEqual(anonymousVolumes(f, mounts), [], `${name} leaves image volumes bare`);
    }
  });

  test('the proxy mounts vault-cli read-only (it starts before vault-init, which must own the fresh volume)', () => {
    assert.ok((ha.services.vault!.volumes ?? []).includes('vault-cli:/vault/cli:ro'));
  });
});
