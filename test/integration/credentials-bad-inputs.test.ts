// User story: as an API client that sends something wrong (a traversal, an encoded slash, a huge or empty
// value, unicode, non-JSON, wrong types, injection strings), I get a 4xx that says what is wrong, and nothing
// changes in Vault or PostgreSQL. No value I sent shows up in the answer or in the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack } from '@aurora/process';
import { basicAuth, rawRequest, type RawAnswer } from '../support/raw-http.js';

const CANARY = 'canary-badinput-0d5c77e1f2';

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}
type Answer = RawAnswer;
const raw = (base: string, auth: [string, string], c: Case): Promise<Answer> =>
  rawRequest(base, c, basicAuth(auth[0], auth[1]));

const good = JSON.stringify({ data: { token: CANARY } });
const BAD_SEGMENTS: Array<[string, string]> = [
  ['dot-dot', '..'],
  ['dot', '.'],
  ['encoded dot-dot', '%2e%2e'],
  ['encoded dot-dot upper', '%2E%2E'],
  ['double-encoded dot-dot', '%252e%252e'],
  ['encoded slash', 'a%2Fb'],
  ['encoded slash alone', '%2F'],
  ['encoded traversal', '..%2F..%2Fsys'],
  ['encoded backslash', 'a%5Cb'],
  ['NUL', 'a%00b'],
  ['newline', 'a%0Ab'],
  ['tab', 'a%09b'],
  ['space', 'a%20b'],
  ['leading dot', '.hidden'],
  ['leading dash', '-rf'],
  ['leading underscore', '_x'],
  ['inner dot-dot', 'a..b'],
  ['too long (129)', 'a'.repeat(129)],
  ['huge (4000)', 'b'.repeat(4000)],
  ['unicode', '%C3%A9l%C3%A8ve'],
  ['emoji', '%F0%9F%94%91'],
  ['right-to-left override', '%E2%80%AEabc'],
  ['malformed percent', '%E0%A4%A'],
  ['bare percent', '%'],
  ['invalid UTF-8 byte', '%FF'],
  ['SQL injection', "'%20OR%201=1--"],
  ['SQL injection 2', 'x%27%3B%20DROP%20TABLE%20credential_references%3B--'],
  ['shell injection', '%24(id)'],
  ['HTML', '%3Cscript%3E'],
  ['question mark', 'a%3Fb'],
  ['hash', 'a%23b'],
  ['asterisk', 'a*'],
  ['plus', 'a+b'],
  ['colon', 'vault:x'],
  ['comma', 'a,b'],
  ['quote', '%22q%22'],
  ['braces', '%7Bx%7D'],
];

function cases(): Case[] {
  const out: Case[] = [];
  for (const [name, seg] of BAD_SEGMENTS) {
    out.push({ name: `user_id ${name} (PUT)`, method: 'PUT', path: `/users/${seg}/credentials/github`, body: good });
    out.push({
      name: `credential_type ${name} (PUT)`,
      method: 'PUT',
      path: `/users/alice/credentials/${seg}`,
      body: good,
    });
  }
  for (const [name, seg] of BAD_SEGMENTS.slice(0, 12)) {
    out.push({ name: `user_id ${name} (resolve)`, method: 'POST', path: `/users/${seg}/credentials/github/resolve` });
    out.push({ name: `credential_type ${name} (DELETE)`, method: 'DELETE', path: `/users/alice/credentials/${seg}` });
    out.push({ name: `user_id ${name} (GET list)`, method: 'GET', path: `/users/${seg}/credentials` });
  }
  const put = (name: string, body: string | Buffer, headers?: Record<string, string>): Case => ({
    name,
    method: 'PUT',
    path: '/users/alice/credentials/github',
    body,
    headers,
  });
  const bodies: Array<[string, string]> = [
    ['empty body', ''],
    ['not JSON', 'not json'],
    ['truncated JSON', '{"data": {"token": "'],
    ['single quote', "'"],
    ['lone bracket', ']'],
    ['null', 'null'],
    ['array', '[]'],
    ['string', '"str"'],
    ['number', '42'],
    ['boolean', 'true'],
    ['empty object', '{}'],
    ['data null', '{"data": null}'],
    ['data array', '{"data": ["a"]}'],
    ['data string', `{"data": "${CANARY}"}`],
    ['data number', '{"data": 1}'],
    ['data empty', '{"data": {}}'],
    ['value number', '{"data": {"k": 1}}'],
    ['value null', '{"data": {"k": null}}'],
    ['value boolean', '{"data": {"k": true}}'],
    ['value object', `{"data": {"k": {"n": "${CANARY}"}}}`],
    ['value array', `{"data": {"k": ["${CANARY}"]}}`],
    ['empty key', `{"data": {"": "${CANARY}"}}`],
    ['key with slash', `{"data": {"a/b": "${CANARY}"}}`],
    ['key dot-dot', `{"data": {"..": "${CANARY}"}}`],
    ['key __proto__', `{"data": {"__proto__": "${CANARY}"}}`],
    ['key with space', `{"data": {"a b": "${CANARY}"}}`],
    ['key unicode', `{"data": {"\u00e9": "${CANARY}"}}`],
    ['key NUL', `{"data": {"a\\u0000": "${CANARY}"}}`],
    ['key too long', `{"data": {"${'k'.repeat(129)}": "${CANARY}"}}`],
    ['key SQL injection', `{"data": {"k'; DROP TABLE x;--": "${CANARY}"}}`],
    ['value over 8 KiB', JSON.stringify({ data: { k: `${CANARY}${'x'.repeat(8192)}` } })],
    ['value lone surrogate', `{"data": {"k": "\\ud800${CANARY}"}}`],
    [
      '65 fields',
      JSON.stringify({ data: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`f${i}`, CANARY])) }),
    ],
    ['extra top-level field', JSON.stringify({ data: { token: CANARY }, extra: 1 })],
    ['wrong case Data', JSON.stringify({ Data: { token: CANARY } })],
    ['value field', JSON.stringify({ value: CANARY })],
    ['nested data', JSON.stringify({ data: { data: { token: CANARY } } })],
    ['body over the limit', JSON.stringify({ data: { k: 'y'.repeat(70_000) } })],
    ['duplicate-looking keys', '{"data": {"k": "a"}, "data ": {}}'],
    ['deeply nested', `${'['.repeat(5000)}${']'.repeat(5000)}`],
  ];
  for (const [name, body] of bodies) out.push(put(`body: ${name}`, body));
  out.push(put('content-type text/plain', good, { 'content-type': 'text/plain' }));
  out.push(put('content-type form', `data=${CANARY}`, { 'content-type': 'application/x-www-form-urlencoded' }));
  out.push(put('charset latin1', good, { 'content-type': 'application/json; charset=latin1' }));
  for (const v of ['abc', '-1', '1.5', '*', '99999999999', '"', 'W/"x"', '1, 2'])
    out.push(put(`If-Match ${JSON.stringify(v)}`, good, { 'if-match': v }));
  out.push({ name: 'PATCH is no route', method: 'PATCH', path: '/users/alice/credentials/github', body: good });
  out.push({ name: 'POST without /resolve', method: 'POST', path: '/users/alice/credentials/github', body: good });
  out.push({ name: 'resolve with GET', method: 'GET', path: '/users/alice/credentials/github/resolve' });
  out.push({ name: 'extra path segment', method: 'PUT', path: '/users/alice/credentials/github/extra', body: good });
  out.push({ name: 'missing type', method: 'PUT', path: '/users/alice/credentials/', body: good });
  return out;
}

describe('bad inputs: a clear 4xx and no change anywhere', () => {
  let stack: CredentialsStack;
  const answers: Array<[Case, Answer]> = [];

  before(async () => {
    stack = await CredentialsStack.start();
    // One real credential, so that a bad write to it would show as a new version.
    const put = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: 'the-original-value' } },
    });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    await stack?.stop();
  });

  test(`at least 100 bad requests each get a 4xx with a message, and Vault and PostgreSQL are unchanged`, async () => {
    const all = cases();
    assert.ok(all.length >= 100, `only ${all.length} cases`);
    const vaultBefore = await stack.vaultSnapshot();
    const rowsBefore = await stack.rows();
    const failures: string[] = [];
    for (const c of all) {
      const a = await raw(stack.app.url, stack.auth('writer'), c);
      answers.push([c, a]);
      const message = a.json?.message;
      if (a.status < 400 || a.status > 499) failures.push(`${c.name}: status ${a.status} ${a.text.slice(0, 200)}`);
      else if (typeof message !== 'string' || message.length < 5 || typeof a.json?.error !== 'string')
        failures.push(`${c.name}: no JSON {error, message}: ${a.text.slice(0, 200)}`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(await stack.vaultSnapshot(), vaultBefore);
    assert.deepEqual(await stack.rows(), rowsBefore);
    // Vault never saw a write: still version 1 with the original value.
    assert.deepEqual((await stack.operator.kvRead('aurora', 'users/alice/github')).data, {
      token: 'the-original-value',
    });
  });

  test('messages name what is wrong', () => {
    const byName = new Map(answers.map(([c, a]) => [c.name, String(a.json?.message ?? '')]));
    assert.match(byName.get('user_id encoded slash (PUT)') ?? '', /^user_id: /);
    assert.match(byName.get('credential_type too long (129) (PUT)') ?? '', /^credential_type: .*129 characters/);
    assert.match(byName.get('body: value number') ?? '', /^data\.k: must be a string/);
    assert.match(byName.get('body: value over 8 KiB') ?? '', /^data\.k: .*at most 8192/);
    assert.match(byName.get('body: 65 fields') ?? '', /^data: has 65 fields/);
    assert.match(byName.get('body: extra top-level field') ?? '', /unknown field "extra"/);
    assert.match(byName.get('body: not JSON') ?? '', /not valid JSON/);
    assert.match(byName.get('content-type text/plain') ?? '', /JSON/);
    assert.match(byName.get('If-Match "abc"') ?? '', /^If-Match: /);
  });

  test('no value sent in a bad request shows up in an answer, the log or the database', () => {
    const inAnswers = answers.filter(([, a]) => a.text.includes(CANARY)).map(([c]) => c.name);
    assert.deepEqual(inAnswers, []);
    assert.deepEqual(stack.leaks([CANARY, 'the-original-value']), []);
  });
});
