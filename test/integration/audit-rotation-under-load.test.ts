// User story: as an operator I leave the stack running for months and the audit log does not grow without
// bound: vault-init rotates it by size into a ring of files, while requests keep coming, without a restart and
// without losing a line — every request made has its request and response lines in one of the files.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor, parseScrape, CredentialsStack, VaultInitProcess } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('audit-rotation-under-load', {
  fault: 'An audit log that grew without bound',
  outcome: "rotated by the stack under load: bounded files, no restart, every request's audit lines kept",
});

const KEEP = 200;
const WRITES = 400;

interface AuditLine {
  type: 'request' | 'response';
  request?: { id?: string; path?: string };
}

/** Every audit line of every file of the ring, parsed. */
function auditLines(base: string): AuditLine[] {
  const dir = path.dirname(base);
  const files = fs.readdirSync(dir).filter((f) => f === path.basename(base) || f.startsWith(`${path.basename(base)}.`));
  return files.flatMap((f) =>
    fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditLine),
  );
}

describe('audit log rotation under load: bounded files, no lost lines', () => {
  let stack: CredentialsStack;
  let initProc: VaultInitProcess;

  before(async () => {
    stack = await CredentialsStack.start({
      initEnv: {
        VAULT_AUDIT_ROTATE_SIZE: '16k',
        VAULT_AUDIT_KEEP_FILES: String(KEEP),
        VAULT_AUDIT_CHECK_INTERVAL_MS: '100',
      },
    });
    initProc = VaultInitProcess.start(stack.initEnv);
    await initProc.waitForOutput(/watching the seal status/, 60_000);
  });
  after(async () => {
    await initProc?.stop();
    await stack?.stop();
  });

  test('writes through Vault and the app while the device switches files: every request is in the log', async () => {
    const base = stack.initDirs.auditFile;
    let next = 0;
    const failures: string[] = [];
    const direct = async () => {
      for (let i = next++; i < WRITES; i = next++) {
        await stack.operator.kvWrite('aurora', `users/rot-${i}/k`, { v: String(i) }).catch((err: Error) => {
          failures.push(`rot-${i}: ${err.message}`);
        });
      }
    };
    const viaApp = async () => {
      for (let i = 0; next < WRITES; i++) {
        const res = await stack.request('PUT', `/users/app-rot/credentials/c${i % 5}`, {
          auth: 'writer',
          body: { data: { key: `v${i}` } },
        });
        if (res.status >= 300) failures.push(`app PUT: ${res.status} ${res.text}`);
      }
    };
    await Promise.all([direct(), direct(), direct(), direct(), viaApp()]);
    assert.deepEqual(failures, []);

    const rotations = initProc.output().match(/audit log rotated/g)?.length ?? 0;
    assert.ok(rotations >= 3, `rotations during the load: ${rotations}`);
    assert.doesNotMatch(initProc.output(), /audit log rotation failed/);
    // vault-init's /metrics counts the same rotations and measures every file of the ring, never more than KEEP.
    const res = await fetch(`http://127.0.0.1:${stack.initEnv.VAULT_INIT_HEALTH_PORT}/metrics`);
    const scrape = parseScrape(await res.text());
    const counted = scrape.value('aurora_vault_audit_log_rotations_total') ?? 0;
    const logged = initProc.output().match(/audit log rotated/g)?.length ?? 0;
    assert.ok(counted >= rotations && counted <= logged, `rotations on /metrics: ${counted}, logged ${logged}`);
    const files = scrape.samples('aurora_vault_audit_log_bytes');
    assert.ok(files.length >= 2 && files.length <= KEEP, `audit files measured: ${files.length}`);

    const lines = auditLines(base);
    for (const type of ['request', 'response'] as const) {
      const seen = new Set<string>();
      for (const l of lines) {
        const m = l.type === type ? /^aurora\/data\/users\/rot-(\d+)\/k$/.exec(l.request?.path ?? '') : null;
        if (m) seen.add(m[1]!);
      }
      const missing = Array.from({ length: WRITES }, (_, i) => String(i)).filter((i) => !seen.has(i));
      assert.deepEqual(missing, [], `${type} lines missing for ${missing.length} of ${WRITES} writes`);
    }
  });

  test('at most VAULT_AUDIT_KEEP_FILES files, and one device left enabled', async () => {
    const dir = path.dirname(stack.initDirs.auditFile);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('audit.log'));
    assert.ok(files.length <= KEEP, `${files.length} files`);
    const devices = await waitFor(
      'one audit device',
      async () => {
        const d = JSON.parse(stack.vault.cli(['audit', 'list', '-format=json'], { VAULT_TOKEN: rootToken(stack) }));
        return Object.keys(d).length === 1 ? d : undefined;
      },
      10_000,
      200,
    );
    assert.equal(Object.keys(devices).length, 1);
  });
});

function rootToken(stack: CredentialsStack): string {
  return (JSON.parse(fs.readFileSync(path.join(stack.initDirs.initDir, 'init.json'), 'utf8')) as { root_token: string })
    .root_token;
}

describe('a small ring wraps: the oldest file is emptied and reused; vault-init keeps its own 4 s token alive', () => {
  let stack: CredentialsStack;
  let initProc: VaultInitProcess;

  before(async () => {
    stack = await CredentialsStack.start({
      initEnv: {
        VAULT_AUDIT_ROTATE_SIZE: '4k',
        VAULT_AUDIT_KEEP_FILES: '3',
        VAULT_AUDIT_CHECK_INTERVAL_MS: '200',
        VAULT_INIT_TOKEN_PERIOD: '4s',
      },
    });
    initProc = VaultInitProcess.start(stack.initEnv);
    await initProc.waitForOutput(/watching the seal status/, 60_000);
  });
  after(async () => {
    await initProc?.stop();
    await stack?.stop();
  });

  test('many rotations over more than three token periods: three files, the newest holding the last write', async (t) => {
    const started = Date.now();
    let i = 0;
    await waitFor(
      'six rotations over at least 12 s',
      async () => {
        await stack.operator.kvWrite('aurora', `users/wrap-${i}/k`, { v: String(i) });
        i += 1;
        const rotations = initProc.output().match(/audit log rotated/g)?.length ?? 0;
        return rotations >= 6 && Date.now() - started >= 12_000 ? rotations : undefined;
      },
      120_000,
      50,
    );
    t.diagnostic(`${i} writes`);
    const dir = path.dirname(stack.initDirs.auditFile);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('audit.log'));
    assert.deepEqual(files.sort(), ['audit.log', 'audit.log.1', 'audit.log.2']);
    const last = `aurora/data/users/wrap-${i - 1}/k`;
    assert.ok(
      auditLines(stack.initDirs.auditFile).some((l) => l.type === 'response' && l.request?.path === last),
      'the last write is in the log',
    );
    assert.doesNotMatch(initProc.output(), /audit log rotation failed|is no longer valid/);
  });
});
