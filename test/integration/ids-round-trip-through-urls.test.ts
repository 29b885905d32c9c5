// User story: every id and path segment a route accepts (Client and Patient ids, user ids, credential types)
// can be addressed again through a URL. `.` and `..`, and their percent-encoded spellings, are what URLs
// normalize away: every route answers 400 naming the field, and nothing is stored. FHIR's own id rule would
// allow them; the app's is stricter, also when the body is a valid resource.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack } from '@aurora/process';
import { basicAuth, rawRequest } from '../support/raw-http.js';
import { fieldFault } from '../faults/field-fault.js';

const { test, cases } = fieldFault('ids-round-trip-through-urls', {
  fault: 'Ids that cannot round-trip through a URL',
  outcome: '`.`, `..` and anything a URL would normalize refused with a 400 naming the field, on every route',
});

const DOT_SEGMENTS = ['.', '..', '%2e', '%2E%2e', '.%2E'];

function decoded(seg: string): string {
  return decodeURIComponent(seg);
}

/** [route, method, path, body, the field the answer must name] for a dot-segment `seg`. */
function routes(seg: string): Array<[string, string, string, string | undefined, string]> {
  const id = decoded(seg);
  const cred = JSON.stringify({ data: { token: 'x' } });
  return [
    ['Client PUT', 'PUT', `/fhir/Client/${seg}`, JSON.stringify({ resourceType: 'Client', id }), 'id'],
    ['Client GET', 'GET', `/fhir/Client/${seg}`, undefined, 'id'],
    ['Client DELETE', 'DELETE', `/fhir/Client/${seg}`, undefined, 'id'],
    ['Patient PUT', 'PUT', `/fhir/Patient/${seg}`, JSON.stringify({ resourceType: 'Patient', id }), 'id'],
    ['Patient GET', 'GET', `/fhir/Patient/${seg}`, undefined, 'id'],
    ['credentials PUT (user)', 'PUT', `/users/${seg}/credentials/github`, cred, 'user_id'],
    ['credentials PUT (type)', 'PUT', `/users/alice/credentials/${seg}`, cred, 'credential_type'],
    ['credentials GET (type)', 'GET', `/users/alice/credentials/${seg}`, undefined, 'credential_type'],
    ['credentials list', 'GET', `/users/${seg}/credentials`, undefined, 'user_id'],
    ['credentials resolve', 'POST', `/users/${seg}/credentials/github/resolve`, undefined, 'user_id'],
    ['credentials DELETE', 'DELETE', `/users/alice/credentials/${seg}`, undefined, 'credential_type'],
  ];
}

describe('ids round-trip through a URL on every route', () => {
  let stack: CredentialsStack;
  before(async () => {
    stack = await CredentialsStack.start({ clients: [{ id: 'admin', permissions: { admin: true } }] });
  });
  after(async () => {
    await stack?.stop();
  });

  test('dot-segments, plain and percent-encoded: 400 naming the field on every route, nothing stored', async () => {
    const auth = basicAuth(...stack.auth('admin'));
    const wrong: string[] = [];
    let count = 0;
    for (const seg of DOT_SEGMENTS) {
      for (const [route, method, path, body, field] of routes(seg)) {
        const a = await rawRequest(stack.app.url, { method, path, ...(body === undefined ? {} : { body }) }, auth);
        count++;
        const message =
          typeof a.json?.message === 'string'
            ? a.json.message
            : String((a.json as { issue?: Array<{ diagnostics?: string }> })?.issue?.[0]?.diagnostics ?? '');
        if (a.status !== 400 || !message.startsWith(`${field}: `))
          wrong.push(`${route} ${JSON.stringify(seg)}: ${a.status} ${a.text.slice(0, 160)}`);
      }
    }
    assert.equal(count, DOT_SEGMENTS.length * 11);
    assert.deepEqual(wrong, []);
    cases(count);
    const rows = await stack.postgres.psql(
      stack.postgres.database,
      "SELECT count(*) FROM resources WHERE id IN ('.', '..')",
    );
    assert.equal(rows.trim(), '0');
  });

  test('the reproduction: PUT /fhir/Client/.. with a matching body is refused, a Client "..." (no dot-segment) is not', async () => {
    const auth = basicAuth(...stack.auth('admin'));
    const body = (id: string) =>
      JSON.stringify({
        resourceType: 'Client',
        id,
        _secret: {
          extension: [{ url: 'http://health-samurai.io/fhir/secret-reference', valueString: 'admin-secret' }],
        },
      });
    const dotdot = await rawRequest(stack.app.url, { method: 'PUT', path: '/fhir/Client/..', body: body('..') }, auth);
    assert.equal(dotdot.status, 400, dotdot.text);
    assert.match(dotdot.text, /id: must not be \\?"\.\.\\?"/);
    const patient = await rawRequest(
      stack.app.url,
      { method: 'PUT', path: '/fhir/Patient/...', body: JSON.stringify({ resourceType: 'Patient', id: '...' }) },
      auth,
    );
    assert.equal(patient.status, 201, patient.text);
    const back = await rawRequest(stack.app.url, { method: 'GET', path: '/fhir/Patient/...' }, auth);
    assert.equal(back.status, 200, 'a three-dot id is an ordinary segment and can be read back');
  });

  test('a permission naming a user id no URL can carry is refused when the Client is stored', async () => {
    const put = await stack.request('PUT', '/fhir/Client/lister', {
      auth: 'admin',
      body: {
        resourceType: 'Client',
        id: 'lister',
        permissions: { credentials: ['read'], users: ['..'] },
      },
    });
    assert.equal(put.status, 422, put.text);
    assert.match(put.text, /permissions\.users/);
  });
});
