/**
 * The FHIR R4 validator, loaded on first use instead of at start: @medplum/core and the R4 definitions cost
 * seconds of parsing and tens of MB of memory, which an app that never stores a Patient or a Client should not
 * pay. The first write that needs validation waits for the load (concurrent ones share it); every later one
 * finds it ready. A failed load is not remembered: the next write tries again.
 */
import type { FhirValidator } from './validation.js';

/** Returns the one validator, loading it (module and definitions) the first time. */
export type FhirValidatorLoader = () => Promise<FhirValidator>;

export function lazyFhirValidator(): FhirValidatorLoader {
  let loading: Promise<FhirValidator> | undefined;
  return () => {
    loading ??= import('./validation.js')
      .then((m) => m.FhirValidator.load())
      .catch((err: unknown) => {
        loading = undefined;
        throw err;
      });
    return loading;
  };
}
