// User story: whatever an API client sends to any route (credentials, Clients, Patients, health), a bad
// request gets a 4xx with a JSON {error, message} (on /fhir routes: a FHIR OperationOutcome, whose issue
// has the code and the diagnostics) saying what is wrong: traversal, encoded slashes, empty,
// huge, unicode, non-JSON, wrong types, injection strings, bad or missing credentials, missing permissions.
// Nothing changes: the PostgreSQL tables and the Vault KV trees are the same before and after, and no
// secret value (what was sent, what is stored, the Clients' secrets) shows up in an answer, a log or the
// database. The counts go to bench/results/reliability.json for the README.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack, clientResource } from '@aurora/process';
import { basicAuth, rawRequest, type RawAnswer } from '../support/raw-http.js';
import { recordReliability } from '../../bench/reliability.js';

const CANARY = 'canary-corpus-5e0f9b27c3d1';
const STORED = 'canary-corpus-stored-81d2aa40';
const PATIENT = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Doe' }] };

interface Case {
  name: string;
  route: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  auth?: string | null;
}
type Answer = RawAnswer;
const basic = basicAuth;
const send = async (base: string, c: Case, authHeader: string | undefined): Promise<Answer> => {
  const a = await rawRequest(base, c, authHeader);
  // An OperationOutcome says the same as {error, message}: its first issue's code and diagnostics.
  const outcome = a.json as { resourceType?: unknown; issue?: Array<{ code?: unknown; diagnostics?: unknown }> };
  if (outcome?.resourceType === 'OperationOutcome' && outcome.issue?.[0])
    a.json = { error: outcome.issue[0].code, message: outcome.issue[0].diagnostics };
  return a;
};

const SEGMENTS: Array<[string, string]> = [
  ['dot-dot', '..'],
  ['encoded dot-dot', '%2e%2e'],
  ['encoded slash', 'a%2Fb'],
  ['encoded traversal', '..%2F..%2Fsys%2Fseal'],
  ['double-encoded', '%252e%252e%252f'],
  ['NUL', 'a%00b'],
  ['newline', 'a%0D%0Ab'],
  ['space', 'a%20b'],
  ['too long', 'x'.repeat(200)],
  ['unicode', '%C3%A9l%C3%A8ve'],
  ['emoji', '%F0%9F%94%91'],
  ['malformed percent', '%E0%A4%A'],
  ['SQL injection', 'x%27%20OR%20%271%27%3D%271'],
  ['shell', '%24(reboot)'],
  ['HTML', '%3Cimg%20src%3Dx%3E'],
  ['backslash', '..%5C..%5Cetc'],
];

/** Every route with its path parameter(s) replaced by `seg` where it can go. */
function routesWith(seg: string): Array<[string, string, string, string | undefined]> {
  const cred = JSON.stringify({ data: { token: CANARY } });
  const patient = (id: string) => JSON.stringify({ ...PATIENT, id });
  return [
    ['credentials PUT (user)', 'PUT', `/users/${seg}/credentials/github`, cred],
    ['credentials PUT (type)', 'PUT', `/users/alice/credentials/${seg}`, cred],
    ['credentials GET one', 'GET', `/users/alice/credentials/${seg}`, undefined],
    ['credentials list', 'GET', `/users/${seg}/credentials`, undefined],
    ['credentials resolve', 'POST', `/users/${seg}/credentials/github/resolve`, undefined],
    ['credentials DELETE', 'DELETE', `/users/alice/credentials/${seg}`, undefined],
    ['Client PUT', 'PUT', `/fhir/Client/${seg}`, JSON.stringify(clientResource({ id: 'x' }, 'client-writer'))],
    ['Patient PUT', 'PUT', `/fhir/Patient/${seg}`, patient('p1')],
    ['Client DELETE', 'DELETE', `/fhir/Client/${seg}`, undefined],
  ];
}

function corpus(secrets: { admin: string; writer: string }): Case[] {
  const out: Case[] = [];
  // 1. Path parameters: traversal, encodings, injection, on every route that takes one.
  for (const [sname, seg] of SEGMENTS) {
    for (const [route, method, path, body] of routesWith(seg))
      out.push({ name: `${route}: ${sname}`, route, method, path, body, auth: 'admin' });
  }
  // 2. Bad credentials on every route (and the limiter never turns them into anything but 401).
  const protectedRoutes: Array<[string, string, string, string | undefined]> = [
    ['credentials PUT', 'PUT', '/users/alice/credentials/github', JSON.stringify({ data: { token: CANARY } })],
    ['credentials list', 'GET', '/users/alice/credentials', undefined],
    ['credentials GET one', 'GET', '/users/alice/credentials/github', undefined],
    ['credentials resolve', 'POST', '/users/alice/credentials/github/resolve', undefined],
    ['credentials DELETE', 'DELETE', '/users/alice/credentials/github', undefined],
    ['Client list', 'GET', '/fhir/Client', undefined],
    ['Client GET', 'GET', '/fhir/Client/admin', undefined],
    [
      'Client PUT',
      'PUT',
      '/fhir/Client/evil',
      JSON.stringify({ ...clientResource({ id: 'evil', permissions: { admin: true } }, 'client-admin') }),
    ],
    ['Client DELETE', 'DELETE', '/fhir/Client/writer', undefined],
    ['Patient list', 'GET', '/fhir/Patient', undefined],
    ['Patient GET', 'GET', '/fhir/Patient/p1', undefined],
    ['Patient PUT', 'PUT', '/fhir/Patient/p1', JSON.stringify(PATIENT)],
  ];
  const badAuth: Array<[string, string | undefined]> = [
    ['no Authorization', undefined],
    ['empty Authorization', ''],
    ['Basic without credentials', 'Basic'],
    ['Basic not base64', 'Basic !!!not-base64!!!'],
    ['Bearer token', 'Bearer hvs.CAESIAAAAAAAAAAAAAAAAAAAAAAA'],
    ['no colon', `Basic ${Buffer.from('admin').toString('base64')}`],
    ['wrong secret', basic('admin', CANARY)],
    ['unknown client', basic('nobody', secrets.admin)],
    ['client id injection', basic("admin' OR '1'='1", secrets.admin)],
    ['client id traversal', basic('../admin', secrets.admin)],
    ['empty secret', basic('admin', '')],
    ["another client's secret", basic('admin', secrets.writer)],
    ['huge (8 KB)', basic('admin', 'h'.repeat(8000))],
    ['Digest scheme', 'Digest username="admin"'],
  ];
  for (const [aname, header] of badAuth) {
    for (const [route, method, path, body] of protectedRoutes) {
      out.push({
        name: `${route}: ${aname}`,
        route,
        method,
        path,
        body,
        auth: null,
        headers: header === undefined ? {} : { authorization: header },
      });
    }
  }
  // 3. Bodies: credentials.
  const credPut = (name: string, body: string, headers?: Record<string, string>): Case => ({
    name: `credentials PUT body: ${name}`,
    route: 'credentials PUT',
    method: 'PUT',
    path: '/users/alice/credentials/github',
    body,
    headers,
    auth: 'writer',
  });
  for (const [name, body] of [
    ['empty', ''],
    ['not JSON', `token=${CANARY}`],
    ['truncated', `{"data": {"token": "${CANARY}`],
    ['null', 'null'],
    ['array', `["${CANARY}"]`],
    ['string', `"${CANARY}"`],
    ['data string', `{"data": "${CANARY}"}`],
    ['value number', '{"data": {"k": 1}}'],
    ['value object', `{"data": {"k": {"v": "${CANARY}"}}}`],
    ['key traversal', `{"data": {"../k": "${CANARY}"}}`],
    ['key __proto__', `{"data": {"__proto__": "${CANARY}"}}`],
    ['extra field', `{"data": {"k": "${CANARY}"}, "x": 1}`],
    ['value over 8 KiB', JSON.stringify({ data: { k: `${CANARY}${'v'.repeat(9000)}` } })],
    ['over the body limit', JSON.stringify({ data: { k: `${CANARY}${'v'.repeat(80_000)}` } })],
    ['deep nesting', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`],
    ['lone surrogate', `{"data": {"k": "\\udc00${CANARY}"}}`],
  ] as Array<[string, string]>)
    out.push(credPut(name, body));
  out.push(credPut('text/plain', JSON.stringify({ data: { token: CANARY } }), { 'content-type': 'text/plain' }));
  out.push(credPut('If-Match not a number', JSON.stringify({ data: { token: CANARY } }), { 'if-match': "1' OR 1=1" }));
  out.push(credPut('If-Match stale version', JSON.stringify({ data: { token: CANARY } }), { 'if-match': '99' }));
  // 4. Bodies: Clients (admin) and Patients.
  const clientPut = (name: string, body: string, id = 'newclient'): Case => ({
    name: `Client PUT body: ${name}`,
    route: 'Client PUT',
    method: 'PUT',
    path: `/fhir/Client/${id}`,
    body,
    auth: 'admin',
  });
  const client = (extra: Record<string, unknown>) =>
    JSON.stringify({ ...clientResource({ id: 'newclient' }, 'client-writer'), ...extra });
  for (const [name, body] of [
    [
      'plain secret value',
      JSON.stringify({ resourceType: 'Client', id: 'newclient', secret: CANARY, grant_types: ['basic'] }),
    ],
    ['wrong resourceType', client({ resourceType: 'Patient' })],
    ['id mismatch', client({ id: 'other' })],
    ['no id', client({ id: undefined })],
    ['array', `[${client({})}]`],
    ['not JSON', `resourceType=Client&secret=${CANARY}`],
    ['empty', ''],
    ['null', 'null'],
    ['permissions not an object', client({ permissions: 'admin' })],
    ['permissions unknown key', client({ permissions: { root: true } })],
    ['permissions bad action', client({ permissions: { credentials: ['steal'] } })],
    ['permissions admin string', client({ permissions: { admin: 'yes' } })],
    ['unknown file secret', JSON.stringify(clientResource({ id: 'newclient' }, 'no-such-secret'))],
    ['file secret scoped to another Client', JSON.stringify(clientResource({ id: 'newclient' }, 'client-admin'))],
    [
      "vault reference into users' credentials",
      JSON.stringify(clientResource({ id: 'newclient' }, 'vault:kv/data/aurora/users/alice/github')),
    ],
    [
      'vault reference traversal',
      JSON.stringify(clientResource({ id: 'newclient' }, 'vault:kv/data/secret/../sys/seal')),
    ],
    ['vault reference not a reference', JSON.stringify(clientResource({ id: 'newclient' }, `vault:${CANARY}`))],
    ['over the body limit', client({ padding: 'p'.repeat(80_000) })],
  ] as Array<[string, string]>)
    out.push(clientPut(name, body));
  const patientPut = (name: string, body: string, id = 'p2'): Case => ({
    name: `Patient PUT body: ${name}`,
    route: 'Patient PUT',
    method: 'PUT',
    path: `/fhir/Patient/${id}`,
    body,
    auth: 'writer',
  });
  for (const [name, body] of [
    ['wrong resourceType', JSON.stringify({ ...PATIENT, id: 'p2', resourceType: 'Client' })],
    ['id mismatch', JSON.stringify({ ...PATIENT, id: 'p3' })],
    ['birthDate not in the calendar', JSON.stringify({ ...PATIENT, id: 'p2', birthDate: '1980-02-30' })],
    ['gender outside its value set', JSON.stringify({ ...PATIENT, id: 'p2', gender: 'banana' })],
    ['unknown element', JSON.stringify({ ...PATIENT, id: 'p2', favouriteColour: 'blue' })],
    ['name not a list', JSON.stringify({ ...PATIENT, id: 'p2', name: { family: 'Doe' } })],
    ['array', '[]'],
    ['string', '"Patient"'],
    ['not JSON', '<Patient/>'],
    ['empty', ''],
    ['number', '7'],
    ['over the body limit', JSON.stringify({ ...PATIENT, id: 'p2', x: 'q'.repeat(80_000) })],
  ] as Array<[string, string]>)
    out.push(patientPut(name, body));
  // 5. Query strings.
  for (const q of ['0', '-1', '1001', 'abc', '1e3', '1.5', '%00', '1&_count=2']) {
    out.push({
      name: `Client list _count=${q}`,
      route: 'Client list',
      method: 'GET',
      path: `/fhir/Client?_count=${q}`,
      auth: 'admin',
    });
    out.push({
      name: `Patient list _count=${q}`,
      route: 'Patient list',
      method: 'GET',
      path: `/fhir/Patient?_count=${q}`,
      auth: 'writer',
    });
  }
  // 6. Permissions: authenticated, but not allowed.
  for (const [name, method, path, who, body] of [
    ['writer lists Clients', 'GET', '/fhir/Client', 'writer', undefined],
    ['writer reads the admin Client', 'GET', '/fhir/Client/admin', 'writer', undefined],
    [
      'writer makes itself admin',
      'PUT',
      '/fhir/Client/writer',
      'writer',
      JSON.stringify(clientResource({ id: 'writer', permissions: { admin: true } }, 'client-writer')),
    ],
    ['writer deletes the admin Client', 'DELETE', '/fhir/Client/admin', 'writer', undefined],
    ['limited resolves', 'POST', '/users/alice/credentials/github/resolve', 'limited', undefined],
    [
      'limited writes',
      'PUT',
      '/users/alice/credentials/github',
      'limited',
      JSON.stringify({ data: { token: CANARY } }),
    ],
    ['limited reads another user', 'GET', '/users/bob/credentials', 'limited', undefined],
    ['limited deletes', 'DELETE', '/users/alice/credentials/github', 'limited', undefined],
    ['plain Client reads credentials', 'GET', '/users/alice/credentials', 'plain', undefined],
    ['plain Client resolves', 'POST', '/users/alice/credentials/github/resolve', 'plain', undefined],
  ] as Array<[string, string, string, string, string | undefined]>)
    out.push({ name: `permission: ${name}`, route: 'permissions', method, path, body, auth: who });
  // 7. Health and unknown routes/methods.
  for (const [name, method, path, auth] of [
    ['POST /healthz', 'POST', '/healthz', null],
    ['PUT /readyz', 'PUT', '/readyz', null],
    ['DELETE /healthz', 'DELETE', '/healthz', null],
    ['POST /healthz (authenticated)', 'POST', '/healthz', 'admin'],
    ['PUT /readyz (authenticated)', 'PUT', '/readyz', 'admin'],
    ['/healthz/.. (authenticated)', 'GET', '/healthz/%2e%2e/v1/sys/seal', 'admin'],
    ['/readyz with a path (authenticated)', 'GET', '/readyz/x', 'admin'],
    ['/v1/sys/seal (authenticated)', 'PUT', '/v1/sys/seal', 'admin'],
    ['PATCH a credential', 'PATCH', '/users/alice/credentials/github', 'admin'],
    ['POST to a credential', 'POST', '/users/alice/credentials/github', 'admin'],
    ['resolve with GET', 'GET', '/users/alice/credentials/github/resolve', 'admin'],
    ['/fhir/Unknown', 'GET', '/fhir/Observation', 'admin'],
    ['Patient DELETE (no route)', 'DELETE', '/fhir/Patient/p1', 'admin'],
  ] as Array<[string, string, string, string | null]>)
    out.push({ name: `health/unknown: ${name}`, route: 'health and unknown routes', method, path, auth });
  return out;
}

describe('bad-input corpus: every route answers a 4xx with a JSON message, nothing changes, nothing leaks', () => {
  let stack: CredentialsStack;
  const answers: Array<[Case, Answer]> = [];
  const failures: string[] = [];
  let stateChanged = -1;
  let leakHits = -1;
  let cases: Case[] = [];

  before(async () => {
    stack = await CredentialsStack.start({
      clients: [
        { id: 'admin', permissions: { admin: true } },
        { id: 'writer', permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['*'] } },
        { id: 'limited', permissions: { credentials: ['read'], users: ['alice'] } },
        { id: 'plain' },
      ],
    });
    const put = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: STORED } },
    });
    assert.equal(put.status, 201, put.text);
    const patient = await stack.request('PUT', '/fhir/Patient/p1', { auth: 'writer', body: PATIENT });
    assert.equal(patient.status, 201, patient.text);
  });

  after(async () => {
    if (cases.length) {
      const routes = new Set(cases.map((c) => c.route));
      const fourxx = answers.filter(
        ([, a]) => a.status >= 400 && a.status < 500 && typeof a.json?.message === 'string',
      ).length;
      recordReliability('bad-input-corpus', {
        title: 'bad-input corpus (every route)',
        passed: failures.length === 0 && stateChanged === 0 && leakHits === 0 && answers.length === cases.length,
        facts: [
          ['requests', answers.length],
          ['routes', routes.size],
          [
            '4xx with a JSON message',
            `${fourxx} (${answers.length ? Math.floor((fourxx / answers.length) * 1000) / 10 : 0} %)`,
          ],
          ['other answers', failures.length],
          ['state changes', stateChanged],
          ['secret values in answers, logs, pg_dump', leakHits],
        ],
      });
    }
    await stack?.stop();
  });

  const snapshot = async () => ({
    vaultUsers: await stack.vaultSnapshot('aurora', 'users'),
    vaultSecret: await stack.vaultSnapshot('secret', 'aurora'),
    credentials: await stack.rows(),
    resources: (
      await stack.postgres.psql(
        stack.postgres.database,
        "SELECT resource_type || '|' || id || '|' || resource::text || '|' || updated_at FROM resources ORDER BY 1",
      )
    ).split('\n'),
    tables: (
      await stack.postgres.psql(
        stack.postgres.database,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      )
    ).split('\n'),
  });

  test('at least 200 bad requests across every route: each a 4xx with a JSON {error, message}; PostgreSQL and Vault unchanged', async () => {
    const secrets = {
      admin: stack.clientSecrets.get('admin') as string,
      writer: stack.clientSecrets.get('writer') as string,
    };
    cases = corpus(secrets);
    assert.ok(cases.length >= 200, `only ${cases.length} cases`);
    const before = await snapshot();
    for (const c of cases) {
      const header = c.auth ? basic(...stack.auth(c.auth)) : undefined;
      const a = await send(stack.app.url, c, c.headers?.authorization !== undefined ? undefined : header);
      answers.push([c, a]);
      const message = a.json?.message;
      if (a.status < 400 || a.status > 499) failures.push(`${c.name}: status ${a.status} ${a.text.slice(0, 160)}`);
      else if (typeof message !== 'string' || message.length < 5 || typeof a.json?.error !== 'string')
        failures.push(`${c.name}: ${a.status} without a JSON {error, message}: ${a.text.slice(0, 160)}`);
    }
    const afterSnap = await snapshot();
    stateChanged = (['vaultUsers', 'vaultSecret', 'credentials', 'resources', 'tables'] as const).filter(
      (k) => JSON.stringify(before[k]) !== JSON.stringify(afterSnap[k]),
    ).length;
    assert.deepEqual(failures, []);
    assert.deepEqual(afterSnap, before);
    assert.deepEqual((await stack.operator.kvRead('aurora', 'users/alice/github')).data, { token: STORED });
  });

  test('answers say what is wrong: the part of the path, the field, the permission', () => {
    const by = new Map(answers.map(([c, a]) => [c.name, { status: a.status, message: String(a.json?.message ?? '') }]));
    assert.match(by.get('credentials PUT (user): encoded slash')?.message ?? '', /^user_id: /);
    assert.match(by.get('Client PUT body: plain secret value')?.message ?? '', /plain secret value is never stored/);
    assert.equal(by.get('Client PUT body: plain secret value')?.status, 422);
    assert.equal(by.get('credentials PUT: wrong secret')?.status, 401);
    assert.match(by.get('permission: limited resolves')?.message ?? '', /resolve/);
    assert.equal(by.get('permission: writer deletes the admin Client')?.status, 403);
    assert.match(by.get('Client list _count=1001')?.message ?? '', /^_count: /);
    assert.equal(by.get('credentials PUT body: over the body limit')?.status, 413);
  });

  // Node's HTTP parser refuses headers over 16 KB before express runs; main.ts's clientError handler answers JSON.
  test('requests Node refuses before express (headers over 16 KB): still a JSON message', async () => {
    const a = await send(
      stack.app.url,
      { name: 'header over 16 KB', route: 'any', method: 'GET', path: '/users/alice/credentials' },
      basic('admin', 'z'.repeat(20_000)),
    );
    assert.equal(a.status, 431);
    assert.equal(typeof a.json?.message, 'string', `status ${a.status}, body ${JSON.stringify(a.text)}`);
  });

  test('no secret value (sent, stored, or a Client secret) in any answer, the logs or pg_dump', () => {
    const values = [CANARY, STORED, ...stack.clientSecrets.values()];
    const inAnswers = answers.flatMap(([c, a]) =>
      values
        .filter((v) => a.text.includes(v) || JSON.stringify(a.headers).includes(v))
        .map((v) => `${v.slice(0, 10)}… in the answer to ${c.name}`),
    );
    const hits = [...inAnswers, ...stack.leaks(values)];
    leakHits = hits.length;
    assert.deepEqual(hits, []);
  });
});
