/**
 * ACL policies. vault/policies/*.hcl are the source of truth, rendered for this deployment's mount and base
 * path; what Vault holds is compared as text, so an edit by hand is put back on the next run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isSafeSegment, type VaultClient } from '@aurora/common';
import { VaultInitError, EXIT, fsReason } from '../errors.js';
import type { VaultInitConfig } from '../config.js';
import type { Change } from './types.js';

export const AGENT_POLICY = 'aurora-agent';
export const OPERATOR_POLICY = 'aurora-operator';
export const VAULT_INIT_POLICY = 'aurora-vault-init';
export const METRICS_POLICY = 'aurora-metrics';

export interface AgentObject {
  objectName: string;
  secretPath: string;
  secretKey: string;
}

const SECRET_PATH = /^[A-Za-z0-9][A-Za-z0-9._@-]*\/data\/[A-Za-z0-9._@/-]+$/;

/** Fills `{{name}}` placeholders; a placeholder without a value is an error, never left for Vault to parse. */
export function renderTemplate(text: string, values: Record<string, string>, source: string): string {
  return text.replace(/\{\{\s*([A-Za-z_]+)\s*\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined)
      throw new VaultInitError(
        EXIT.config,
        `${source}: unknown placeholder {{${name}}}; known: ${Object.keys(values)
          .map((k) => `{{${k}}}`)
          .join(', ')}`,
      );
    return v;
  });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new VaultInitError(
      EXIT.config,
      `cannot read ${what} ${file}: ${fsReason(err)} (VAULT_POLICY_DIR / VAULT_AGENT_OBJECTS point at it)`,
      { cause: err },
    );
  }
}

/** vault/agent/secrets.json, validated: the agent policy grants exactly these paths. */
export async function readAgentObjects(file: string): Promise<AgentObject[]> {
  const text = await readText(file, 'the agent objects file');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VaultInitError(EXIT.config, `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed))
    throw new VaultInitError(EXIT.config, `${file} must be a JSON list of {"objectName", "secretPath", "secretKey"}`);
  return parsed.map((o: Partial<AgentObject>, i) => {
    const where = `${file} entry ${i}`;
    if (!o || typeof o !== 'object') throw new VaultInitError(EXIT.config, `${where} must be an object`);
    if (!isSafeSegment(o.objectName))
      throw new VaultInitError(
        EXIT.config,
        `${where}: "objectName" must be a file name of letters, digits, . _ - @; example: "client-secret"`,
      );
    if (
      typeof o.secretPath !== 'string' ||
      !SECRET_PATH.test(o.secretPath) ||
      o.secretPath.split('/').some((s) => s === '..' || s === '.' || s === '')
    ) {
      throw new VaultInitError(
        EXIT.config,
        `${where}: "secretPath" must be a KV v2 data path <mount>/data/<path>; example: "secret/data/aidbox/client"`,
      );
    }
    if (typeof o.secretKey !== 'string' || o.secretKey.length === 0)
      throw new VaultInitError(
        EXIT.config,
        `${where}: "secretKey" must be the key inside the secret; example: "client-secret"`,
      );
    return { objectName: o.objectName, secretPath: o.secretPath, secretKey: o.secretKey };
  });
}

/** The policies as Vault should hold them, by name. */
export async function desiredPolicies(
  config: Pick<VaultInitConfig, 'policyDir' | 'agentObjectsFile' | 'kvMount' | 'kvBasePath' | 'appPolicy'>,
): Promise<Map<string, string>> {
  const objects = await readAgentObjects(config.agentObjectsFile);
  const agentPaths =
    [...new Set(objects.map((o) => o.secretPath))]
      .sort()
      .map((p) => `path "${p}" {\n  capabilities = ["read"]\n}`)
      .join('\n\n') || '# (no objects listed)';
  const values = { mount: config.kvMount, base: config.kvBasePath, agent_paths: agentPaths };
  const out = new Map<string, string>();
  for (const [name, file] of [
    [config.appPolicy, 'aurora-app.hcl'],
    [AGENT_POLICY, 'aurora-agent.hcl'],
    [OPERATOR_POLICY, 'aurora-operator.hcl'],
    [VAULT_INIT_POLICY, 'aurora-vault-init.hcl'],
    [METRICS_POLICY, 'aurora-metrics.hcl'],
  ] as const) {
    const source = path.join(config.policyDir, file);
    out.set(name, renderTemplate(await readText(source, 'the policy'), values, source));
  }
  return out;
}

export async function ensurePolicy(client: VaultClient, name: string, text: string): Promise<Change> {
  const actual = await client.readPolicy(name);
  if (actual === text) return 'unchanged';
  await client.writePolicy(name, text);
  return actual === null ? 'created' : 'updated';
}
