// User story: a Client's secret is compared by one rule whatever holds it. The same stored value in a file
// secret (what the agent renders) and behind a `vault:` reference accepts and refuses the same passwords:
// a trailing run of CR/LF on the stored value is ignored (`\n`, `\r\n`, `\n\n`), anything else (a trailing
// space, a byte order mark) stays part of the secret, and a non-ASCII secret sent as UTF-8 in Basic auth
// matches, in NFC or not. The app log points out odd stored values, never showing them.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ClientsStack, defaultSecretsConfig, userClient } from '../support/clients-app.js';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('client-secret-one-comparison-rule', {
  fault: 'One Client secret, two comparison rules',
  outcome:
    'one rule for file and vault: secrets (a trailing CR/LF run ignored, nothing else changed) for \\n, \\r\\n, \\n\\n, a trailing space, a BOM and a non-ASCII secret',
});

interface Case {
  name: string;
  stored: string;
  accepted: string[];
  refused: string[];
}

const CASES: Case[] = [
  { name: 'LF', stored: 'tr41ling\n', accepted: ['tr41ling'], refused: ['tr41ling\n', 'tr41ling '] },
  { name: 'CRLF', stored: 'tr41ling\r\n', accepted: ['tr41ling'], refused: ['tr41ling\r\n', 'tr41ling\r'] },
  { name: 'LFLF', stored: 'tr41ling\n\n', accepted: ['tr41ling'], refused: ['tr41ling\n', 'tr41ling\n\n'] },
  { name: 'space', stored: 'tr41ling ', accepted: ['tr41ling '], refused: ['tr41ling'] },
  { name: 'bom', stored: '\uFEFFtr41ling', accepted: ['\uFEFFtr41ling'], refused: ['tr41ling'] },
  { name: 'utf8', stored: 'pässwörd-ünïcode-秘密', accepted: ['pässwörd-ünïcode-秘密'], refused: ['password-unicode'] },
  // Stored decomposed (as macOS writes), sent composed (as RFC 7617 asks of clients): NFC on both sides.
  // Nothing but CR/LF: no secret at all, so not even an empty password is accepted.
  { name: 'only-newline', stored: '\n', accepted: [], refused: ['', '\n'] },
  { name: 'nfd', stored: 'pa\u0308ss-nfd', accepted: ['p\u00e4ss-nfd', 'pa\u0308ss-nfd'], refused: ['pass-nfd'] },
];

describe('one comparison rule for Client secrets, from a file and from Vault', () => {
  let stack: ClientsStack;
  before(async () => {
    stack = await ClientsStack.start({
      secretsConfig: (dir) => {
        const secret = { ...(defaultSecretsConfig(dir) as { secret: Record<string, unknown> }).secret };
        for (const c of CASES)
          secret[`file-${c.name}`] = {
            path: path.join(dir, `file-${c.name}`),
            scope: { resource_type: 'Client', id: `file-${c.name}` },
          };
        return { secret };
      },
    });
    const operator = stack.operator();
    for (const c of CASES) {
      fs.writeFileSync(stack.secretFile(`file-${c.name}`), c.stored, { mode: 0o400 });
      await operator.kvWrite('secret', `clients/vault-${c.name}`, { 'client-secret': c.stored });
      for (const [id, ref] of [
        [`file-${c.name}`, `file-${c.name}`],
        [`vault-${c.name}`, `vault:kv/data/secret/clients/vault-${c.name}`],
      ] as const) {
        const put = await stack.request('PUT', `/fhir/Client/${id}`, {
          auth: stack.admin(),
          body: userClient(id, ref),
        });
        assert.equal(put.status, 201, put.text);
      }
    }
  });
  after(async () => {
    await stack?.stop();
  });

  const status = async (id: string, secret: string) =>
    (await stack.request('GET', '/fhir/Patient', { auth: [id, secret] })).status;

  for (const c of CASES) {
    test(`stored ${JSON.stringify(c.stored)}: the file secret and the vault: reference agree`, async () => {
      for (const source of ['file', 'vault']) {
        const id = `${source}-${c.name}`;
        for (const s of c.accepted) assert.equal(await status(id, s), 200, `${id} with ${JSON.stringify(s)}`);
        for (const s of c.refused) assert.equal(await status(id, s), 401, `${id} with ${JSON.stringify(s)}`);
      }
    });
  }

  test('odd stored values are pointed out in the log by reference, never shown', () => {
    const lines = stack
      .log()
      .split('\n')
      .filter((l) => l.includes('look accidental'));
    const about = (ref: string) => lines.find((l) => l.includes(`"ref":"${ref}"`)) ?? '';
    assert.match(about('vault:kv/data/secret/clients/vault-LF'), /trailing CR\/LF/);
    assert.match(about('file-LF'), /trailing CR\/LF/, 'a file secret is judged by the same rule');
    assert.match(about('file-CRLF'), /trailing CR\/LF/);
    assert.match(about('vault:kv/data/secret/clients/vault-space'), /trailing whitespace/);
    assert.match(about('file-space'), /trailing whitespace/);
    assert.match(about('file-bom'), /byte order mark/);
    assert.match(about('vault:kv/data/secret/clients/vault-bom'), /byte order mark/);
    assert.equal(about('file-utf8'), '', 'a plain non-ASCII value is not odd');
    assert.deepEqual(stack.leaks(['tr41ling', 'pässwörd', stack.adminSecret]), []);
  });
});
