/**
 * Renders the Vault agent's config (vault/agent/agent.hcl) from the objects list (vault/agent/secrets.json),
 * the compose analog of a Kubernetes SecretProviderClass's `objects`:
 *
 *   [{"objectName": "client-secret", "secretPath": "secret/data/aidbox/client", "secretKey": "client-secret"}]
 *
 * One template per object renders `<secretPath>#<secretKey>` to `<outputDir>/<objectName>`, mode 0400, and
 * is re-rendered every `renderInterval` (static_secret_render_interval). The agent logs in with AppRole
 * (the files vault-init writes) and keeps the secret_id file. A secret that does not exist yet (the user's
 * `vault kv put` comes later) does not stop the agent: it retries and renders once the secret appears.
 *
 * scripts/gen-agent-config.ts writes the compose file (`npm run gen:agent`); tests and native mode call
 * `renderAgentConfig` with their own paths (a temp dir, .native/secrets).
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './processes.js';

export interface AgentObject {
  objectName: string;
  /** KV v2 API path, e.g. secret/data/aidbox/client */
  secretPath: string;
  secretKey: string;
}

export interface AgentConfigOptions {
  /** Emits a `vault { address }` block; omitted, the agent uses VAULT_ADDR (compose sets it). */
  vaultAddress?: string;
  roleIdFile: string;
  secretIdFile: string;
  /** Directory the files are rendered into. */
  outputDir: string;
  /** Re-render interval, a Go duration such as "30s" or "1m". */
  renderInterval: string;
  /** Optional pid file (native mode). */
  pidFile?: string;
  /**
   * Retries of a failed Vault read (e.g. a secret not written yet) before the agent restarts its template
   * runner. The retries back off to once a minute, so a secret written later is rendered within a minute;
   * each runner restart, though, sleeps longer than the last (up to 5 min) and renders nothing meanwhile.
   * Hence many retries: default 1000 (about 16 h of once-a-minute retries between restarts).
   */
  retries?: number;
}

/** The paths inside the compose containers (docs/architecture.md). */
export const COMPOSE_AGENT_OPTIONS: Readonly<AgentConfigOptions> = Object.freeze({
  roleIdFile: '/vault/approle/agent/role_id',
  secretIdFile: '/vault/approle/agent/secret_id',
  outputDir: '/run/vault-secrets',
  renderInterval: '30s',
});

export const OBJECTS_FILE = path.join(repoRoot(), 'vault', 'agent', 'secrets.json');
export const AGENT_HCL_FILE = path.join(repoRoot(), 'vault', 'agent', 'agent.hcl');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KV_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]*\/data\/[A-Za-z0-9._@-]+(?:\/[A-Za-z0-9._@-]+)*$/;
const KEY = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
const DURATION = /^\d+(?:ms|s|m|h)$/;

/** Validates the objects list; every problem names the entry and the field. */
export function parseObjects(value: unknown, source = 'secrets.json'): AgentObject[] {
  const problems: string[] = [];
  if (!Array.isArray(value))
    throw new Error(`${source}: must be a JSON array of {"objectName", "secretPath", "secretKey"}`);
  const names = new Set<string>();
  const objects: AgentObject[] = [];
  value.forEach((raw: unknown, i) => {
    const at = `${source}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${at}: must be an object`);
      return;
    }
    const o = raw as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!['objectName', 'secretPath', 'secretKey'].includes(key))
        problems.push(`${at}.${key}: unknown field; an object has objectName, secretPath, secretKey`);
    }
    const { objectName, secretPath, secretKey } = o;
    if (typeof objectName !== 'string' || !NAME.test(objectName) || objectName.includes('..'))
      problems.push(`${at}.objectName: must be a file name (A-Z a-z 0-9 . _ -), e.g. "client-secret"`);
    else if (names.has(objectName)) problems.push(`${at}.objectName: ${objectName} is listed twice`);
    else names.add(objectName);
    if (typeof secretPath !== 'string' || !KV_PATH.test(secretPath) || secretPath.split('/').includes('..'))
      problems.push(`${at}.secretPath: must be a KV v2 API path <mount>/data/<path>, e.g. "secret/data/aidbox/client"`);
    if (typeof secretKey !== 'string' || !KEY.test(secretKey))
      problems.push(`${at}.secretKey: must be a key of the secret, e.g. "client-secret"`);
    objects.push({
      objectName: objectName as string,
      secretPath: secretPath as string,
      secretKey: secretKey as string,
    });
  });
  if (problems.length) throw new Error(`invalid objects list:\n  - ${problems.join('\n  - ')}`);
  return objects;
}

export function readObjects(file = OBJECTS_FILE): AgentObject[] {
  return parseObjects(JSON.parse(fs.readFileSync(file, 'utf8')), path.basename(file));
}

const q = (s: string) => JSON.stringify(s);

/**
 * The template of one object. `with index ...` (rather than printing `index` directly) renders an empty file
 * when the key is missing, instead of Go's "<no value>", which would otherwise become a guessable secret.
 */
export function objectTemplate(o: AgentObject): string {
  return `{{ with secret "${o.secretPath}" }}{{ with index .Data.data "${o.secretKey}" }}{{ . }}{{ end }}{{ end }}`;
}

export function renderAgentConfig(objects: AgentObject[], options: AgentConfigOptions): string {
  if (!DURATION.test(options.renderInterval))
    throw new Error(`render interval ${q(options.renderInterval)} must be a duration such as 30s, 1m or 500ms`);
  const lines: string[] = [
    '# GENERATED by scripts/gen-agent-config.ts from vault/agent/secrets.json: edit those, then `npm run gen:agent`.',
    '# The compose analog of the Kubernetes CSI driver: renders each listed secret to its own file.',
    '',
  ];
  if (options.pidFile) lines.push(`pid_file = ${q(options.pidFile)}`, '');
  lines.push('vault {');
  if (options.vaultAddress) lines.push(`  address = ${q(options.vaultAddress)}`);
  else lines.push('  # address: the VAULT_ADDR environment variable.');
  lines.push(
    '  # A failed read (e.g. a secret not written yet) is retried, backing off to once a minute; after this many',
    '  # the template runner restarts after a pause that grows each time (up to 5 min): keep restarts rare.',
    '  retry {',
    `    num_retries = ${options.retries ?? 1000}`,
    '  }',
    '}',
    '',
  );
  lines.push(
    'auto_auth {',
    '  method "approle" {',
    '    mount_path = "auth/approle"',
    '    config = {',
    `      role_id_file_path                   = ${q(options.roleIdFile)}`,
    `      secret_id_file_path                 = ${q(options.secretIdFile)}`,
    '      remove_secret_id_file_after_reading = false',
    '    }',
    '  }',
    '}',
    '',
    'template_config {',
    "  # How often KV secrets are read again and re-rendered (the CSI driver's rotationPollInterval).",
    `  static_secret_render_interval = ${q(options.renderInterval)}`,
    '  # A secret that does not exist yet must not stop the agent: keep retrying.',
    '  exit_on_retry_failure = false',
    '}',
  );
  for (const o of objects) {
    lines.push(
      '',
      'template {',
      `  contents    = ${q(objectTemplate(o))}`,
      `  destination = ${q(path.posix.join(options.outputDir, o.objectName))}`,
      '  perms       = "0400"',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The config compose uses: the committed file must equal this (a unit test checks). */
export function composeAgentConfig(objectsFile = OBJECTS_FILE): string {
  return renderAgentConfig(readObjects(objectsFile), COMPOSE_AGENT_OPTIONS);
}
