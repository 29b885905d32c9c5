/**
 * The ids the app accepts for resources (Client, Patient): FHIR R4's `id` datatype
 * (`[A-Za-z0-9\-\.]{1,64}`, http://hl7.org/fhir/R4/datatypes.html#id) without `.` and `..`.
 *
 * Stricter than FHIR on purpose: an id travels as a URL path segment (`/fhir/Patient/<id>`), and every HTTP
 * client removes the dot-segments `.` and `..` before sending (RFC 3986 §5.2.4), so a resource with such an
 * id could be stored but never read, changed or deleted again. No other id in FHIR's alphabet changes on
 * the way through a URL: it has no `%`, `/`, `?`, `#` or case-folded part.
 */
import { ValidationError } from '@aurora/common';

/** FHIR R4's id datatype. */
export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
export const RESOURCE_ID_RULE = '1-64 characters from A-Z a-z 0-9 - . (FHIR id), and not "." or ".."';

/** True when `value` is a FHIR id that survives a trip through a URL path unchanged. */
export function isResourceId(value: unknown): value is string {
  return typeof value === 'string' && FHIR_ID_PATTERN.test(value) && value !== '.' && value !== '..';
}

/** Returns `value` when it is a resource id; otherwise throws a 400 ValidationError naming `field`. */
export function assertResourceId(field: string, value: unknown): string {
  if (value === '.' || value === '..')
    throw new ValidationError(
      field,
      `must not be "${value}": URLs drop dot-segments, so such a resource could never be addressed; ${RESOURCE_ID_RULE}`,
    );
  if (!isResourceId(value)) throw new ValidationError(field, `must be ${RESOURCE_ID_RULE}`);
  return value;
}
