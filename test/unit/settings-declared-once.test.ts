// Each setting is declared once, in its service's schema (name, default, validation, doc): .env.example shows
// every one of them with that default and a line of doc, and the compose files' `${NAME:-default}` fallbacks for
// the services' own variables are those defaults too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { KV_SETTINGS, type Setting } from '@aurora/common';
import { APP_SETTINGS } from '@aurora/app/config';
import { VAULT_INIT_SETTINGS } from '@aurora/vault-init/config';
import { LEASED_APP_ROLE, LEASED_MIGRATIONS_ROLE, repoRoot } from '@aurora/process';
import { DB_APP_ROLE, DB_MAINTENANCE_ROLE } from '@aurora/vault-init/configure/database-roles';

type Schema = Record<string, Setting<unknown>>;
const SERVICES: Array<{ service: string; section: string; schema: Schema }> = [
  { service: 'vault-init', section: 'vault-init', schema: VAULT_INIT_SETTINGS },
  { service: 'app', section: 'app', schema: APP_SETTINGS },
];
const SHARED = new Set(Object.values(KV_SETTINGS).map((s) => s.name));

/** .env.example as sections (`# ---- title ----`) of `# NAME=value` lines, each with the comment line above it. */
function envExample(): Map<string, Map<string, { value: string; docAbove: boolean }>> {
  const sections = new Map<string, Map<string, { value: string; docAbove: boolean }>>();
  let current = new Map<string, { value: string; docAbove: boolean }>();
  let previous = '';
  for (const line of fs.readFileSync(path.join(repoRoot(), '.env.example'), 'utf8').split('\n')) {
    const title = /^# ---- (.+?) ----/.exec(line);
    if (title) {
      current = new Map();
      sections.set(title[1]!.trim(), current);
    } else {
      const entry = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (entry) current.set(entry[1]!, { value: entry[2]!, docAbove: previous.startsWith('# ') });
    }
    previous = line;
  }
  return sections;
}

describe('settings are declared once, in one schema per service', () => {
  const sections = envExample();

  for (const { section, schema } of SERVICES) {
    test(`.env.example documents every ${section} setting with its default`, () => {
      const documented = sections.get(section);
      assert.ok(documented, `.env.example has a "# ---- ${section} ----" section`);
      for (const s of Object.values(schema)) {
        const entry: { value: string; docAbove: boolean } | undefined =
          documented.get(s.name) ?? (SHARED.has(s.name) ? sections.get('vault-init')?.get(s.name) : undefined);
        assert.ok(entry, `.env.example's ${section} section shows # ${s.name}=${s.defaultText} (${s.doc})`);
        assert.equal(entry.value, s.defaultText, `.env.example shows ${s.name}'s default as the schema declares it`);
        assert.ok(entry.docAbove, `${s.name} has a line of doc above it in .env.example`);
        assert.ok(s.doc.length > 0 && !s.doc.includes('\n'), `${s.name} has one line of doc in its schema`);
      }
      const names = new Set(Object.values(schema).map((s) => s.name));
      for (const name of documented.keys())
        assert.ok(names.has(name), `.env.example's ${section} section shows ${name}, which ${section} does not read`);
    });
  }

  for (const file of ['docker-compose.yml', 'docker-compose.ha.yml']) {
    test(`${file}: the \${NAME:-default} of each service's own settings is the schema's default`, () => {
      const compose = parse(fs.readFileSync(path.join(repoRoot(), file), 'utf8')) as {
        services: Record<string, { environment?: Record<string, unknown> }>;
      };
      let checked = 0;
      for (const { service, schema } of SERVICES) {
        const byName = new Map(Object.values(schema).map((s) => [s.name, s]));
        for (const [name, value] of Object.entries(compose.services[service]?.environment ?? {})) {
          const fallback = new RegExp(`^\\$\\{${name}:-(.*)\\}$`).exec(String(value));
          const s = byName.get(name);
          if (!fallback || !s) continue;
          assert.equal(fallback[1], s.defaultText, `${file}: ${service}'s ${name} falls back to the schema's default`);
          checked++;
        }
      }
      if (file === 'docker-compose.yml') assert.ok(checked >= 5, `checked ${checked} fallbacks`);
    });
  }

  test("the local stacks lease the app's database users from the roles vault-init creates", () => {
    // compose names them literally; make native, the tests' stacks and the bench take them from @aurora/process.
    assert.deepEqual([LEASED_APP_ROLE, LEASED_MIGRATIONS_ROLE], [DB_APP_ROLE, DB_MAINTENANCE_ROLE]);
    const compose = parse(fs.readFileSync(path.join(repoRoot(), 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { environment?: Record<string, unknown> }>;
    };
    const app = compose.services.app?.environment ?? {};
    assert.deepEqual([app.PG_VAULT_ROLE, app.PG_VAULT_MIGRATIONS_ROLE], [DB_APP_ROLE, DB_MAINTENANCE_ROLE]);
  });
});
