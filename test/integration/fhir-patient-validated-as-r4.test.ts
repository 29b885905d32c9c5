// User story: a FHIR client stores a Patient and reads it back, alone and in a searchset Bundle, and a strict
// FHIR R4 library parses what it gets. A Patient that is not valid R4 (an impossible date, a gender outside
// its required value set, a single value where a list belongs, an unknown element, two values for one
// choice element, ...) is refused with 400 and an OperationOutcome whose issue names the element, and
// nothing is stored. A Client's `_secret` extensions are checked as FHIR Extensions.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack } from '@aurora/process';
import { FhirValidator } from '@aurora/app/fhir/validation';
import { fieldFault } from '../faults/field-fault.js';

const { test, cases } = fieldFault('fhir-patient-validated-as-r4', {
  fault: 'FHIR resources stored that FHIR clients cannot read',
  outcome:
    'invalid dates, codes, cardinality and unknown elements refused with an OperationOutcome naming the element; what the app returns parses in an R4 client library',
});

interface OutcomeJson {
  resourceType?: string;
  issue?: Array<{ severity?: string; code?: string; diagnostics?: string; expression?: string[] }>;
}

const VALID = {
  resourceType: 'Patient',
  id: 'valid',
  active: true,
  name: [{ use: 'official', family: 'Doe', given: ['Jane'] }],
  gender: 'female',
  birthDate: '1980-02-29',
  telecom: [{ system: 'phone', value: '+1 555 0100', use: 'home' }],
  address: [{ use: 'home', city: 'Springfield', period: { start: '2001-01-01' } }],
  deceasedBoolean: false,
  contact: [{ gender: 'male', name: { family: 'Doe' } }],
};

/** [name, changes to the valid Patient, the element the OperationOutcome must name]. */
const INVALID: Array<[string, Record<string, unknown>, string]> = [
  ['birthDate not in the calendar', { birthDate: '1980-02-30' }, 'Patient.birthDate'],
  ['birthDate 29 February of a common year', { birthDate: '1981-02-29' }, 'Patient.birthDate'],
  ['birthDate month 13', { birthDate: '1980-13-01' }, 'Patient.birthDate'],
  ['birthDate in another format', { birthDate: '02/03/1980' }, 'Patient.birthDate'],
  ['birthDate a number', { birthDate: 19800203 }, 'Patient.birthDate'],
  ['gender outside the value set', { gender: 'banana' }, 'Patient.gender'],
  ['gender in capitals', { gender: 'Female' }, 'Patient.gender'],
  ['gender null', { gender: null }, 'Patient.gender'],
  ['name a single object', { name: { family: 'Doe' } }, 'Patient.name'],
  ['name.use outside the value set', { name: [{ use: 'nickname-ish', family: 'Doe' }] }, 'Patient.name[0].use'],
  ['active a list', { active: [true] }, 'Patient.active'],
  ['active a string', { active: 'true' }, 'Patient.active'],
  ['unknown element', { favouriteColour: 'blue' }, 'Patient.favouriteColour'],
  ['two values for deceased[x]', { deceasedDateTime: '2020-01-01' }, 'Patient.deceased'],
  [
    'deceasedDateTime not in the calendar',
    { deceasedBoolean: undefined, deceasedDateTime: '2021-02-29T10:00:00Z' },
    'Patient.deceasedDateTime',
  ],
  [
    'telecom.system outside the value set',
    { telecom: [{ system: 'pigeon', value: 'x' }] },
    'Patient.telecom[0].system',
  ],
  [
    'address.period.start not in the calendar',
    { address: [{ period: { start: '2001-04-31' } }] },
    'Patient.address[0].period.start',
  ],
  ['contact.gender outside the value set', { contact: [{ gender: 'banana' }] }, 'Patient.contact[0].gender'],
  ['an empty name', { name: [{}] }, 'Patient.name[0]'],
  ['link without its required other', { link: [{ type: 'seealso' }] }, 'Patient.link[0].other'],
  [
    'link.type outside the value set',
    { link: [{ other: { reference: 'Patient/x' }, type: 'cousin' }] },
    'Patient.link[0].type',
  ],
  [
    'meta.lastUpdated not in the calendar',
    { meta: { lastUpdated: '2020-02-30T00:00:00Z' } },
    'Patient.meta.lastUpdated',
  ],
  ['extension without url', { extension: [{ valueString: 'x' }] }, 'Patient.extension[0]'],
];

describe('Patients are validated as FHIR R4; what the app returns parses', () => {
  let stack: CredentialsStack;
  let validator: FhirValidator;
  before(async () => {
    [stack, validator] = await Promise.all([
      CredentialsStack.start({ clients: [{ id: 'admin', permissions: { admin: true } }, { id: 'plain' }] }),
      Promise.resolve().then(() => new FhirValidator()),
    ]);
  });
  after(async () => {
    await stack?.stop();
  });

  const patients = async () =>
    (
      await stack.postgres.psql(
        stack.postgres.database,
        "SELECT id FROM resources WHERE resource_type = 'Patient' ORDER BY id",
      )
    ).trim();

  test('the reproductions: birthDate 1980-02-30 and gender "banana" are refused, nothing stored', async () => {
    for (const [id, change, element] of [
      ['p1', { birthDate: '1980-02-30' }, 'Patient.birthDate'],
      ['p2', { gender: 'banana' }, 'Patient.gender'],
    ] as const) {
      const res = await stack.request('PUT', `/fhir/Patient/${id}`, {
        auth: 'plain',
        body: { resourceType: 'Patient', id, ...change },
      });
      assert.equal(res.status, 400, res.text);
      assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
      const outcome = res.json as OutcomeJson;
      assert.equal(outcome.resourceType, 'OperationOutcome');
      assert.ok(
        outcome.issue?.some((i) => i.expression?.includes(element)),
        res.text,
      );
      assert.deepEqual(validator.validate(outcome as Record<string, unknown>), [], 'the OperationOutcome is valid R4');
    }
    assert.equal(await patients(), '');
  });

  test(`a corpus of ${INVALID.length} invalid elements: each 400 with an OperationOutcome naming it`, async () => {
    const wrong: string[] = [];
    for (const [name, change, element] of INVALID) {
      const body: Record<string, unknown> = { ...VALID, id: 'bad' };
      for (const [k, v] of Object.entries(change)) {
        if (v === undefined) delete body[k];
        else body[k] = v;
      }
      const res = await stack.request('PUT', '/fhir/Patient/bad', { auth: 'plain', body });
      const outcome = res.json as OutcomeJson;
      const named = outcome.issue?.some((i) => (i.expression ?? []).some((e) => e.startsWith(element)));
      if (res.status !== 400 || outcome.resourceType !== 'OperationOutcome' || !named)
        wrong.push(`${name}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    assert.deepEqual(wrong, []);
    assert.equal(await patients(), '');
    cases(INVALID.length);
  });

  test('a valid Patient is stored; it and the searchset Bundle parse as R4', async () => {
    const put = await stack.request('PUT', '/fhir/Patient/valid', { auth: 'plain', body: VALID });
    assert.equal(put.status, 201, put.text);
    const one = await stack.request('GET', '/fhir/Patient/valid', { auth: 'plain' });
    assert.deepEqual(one.json, VALID);
    assert.deepEqual(validator.validate(one.json as Record<string, unknown>), []);
    const search = await stack.request('GET', '/fhir/Patient', { auth: 'plain' });
    assert.equal((search.json as { resourceType: string }).resourceType, 'Bundle');
    assert.deepEqual(validator.validate(search.json as Record<string, unknown>), []);
  });

  test('other refusals on /fhir are OperationOutcomes too (404, 403, a bad _count)', async () => {
    for (const [path, auth, status] of [
      ['/fhir/Patient/nobody', 'plain', 404],
      ['/fhir/Client', 'plain', 403],
      ['/fhir/Patient?_count=0', 'plain', 400],
    ] as const) {
      const res = await stack.request('GET', path, { auth });
      assert.equal(res.status, status, res.text);
      assert.equal((res.json as OutcomeJson).resourceType, 'OperationOutcome', res.text);
      assert.deepEqual(validator.validate(res.json as Record<string, unknown>), []);
    }
  });

  test("a Client's _secret extensions are checked as FHIR Extensions", async () => {
    const res = await stack.request('PUT', '/fhir/Client/ext', {
      auth: 'admin',
      body: {
        resourceType: 'Client',
        id: 'ext',
        _secret: {
          extension: [
            { url: 'http://health-samurai.io/fhir/secret-reference', valueString: 'admin-secret', valueBanana: 1 },
          ],
        },
      },
    });
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /Client\._secret\.extension\[0\]/);
  });
});
