/**
 * Errors on the /fhir routes as FHIR answers: an `OperationOutcome`
 * (http://hl7.org/fhir/R4/operationoutcome.html) with one issue per problem, each naming its element in
 * `expression` (FHIRPath) and saying what is wrong in `diagnostics`. Served as application/fhir+json, so a
 * FHIR client library reads the reason the way it reads any other answer.
 */
import type { ErrorRequestHandler } from 'express';
import { AuroraError } from '@aurora/common';
import type { FhirIssue } from './validation.js';

/** A resource that is not valid FHIR R4 (or breaks a rule of the app's): 400 with every issue. */
export class InvalidResourceError extends AuroraError {
  constructor(readonly issues: FhirIssue[]) {
    super(
      'invalid_resource',
      400,
      issues
        .slice(0, 5)
        .map((i) => i.diagnostics)
        .join('; ') + (issues.length > 5 ? `; and ${issues.length - 5} more` : ''),
    );
  }
}

type IssueType = FhirIssue['code'] | 'login' | 'forbidden' | 'not-found' | 'conflict' | 'processing' | 'throttled';

function issueTypeFor(status: number): IssueType {
  if (status === 401) return 'login';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 422) return 'processing';
  if (status === 429) return 'throttled';
  return 'invalid';
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Array<{ severity: 'error'; code: string; diagnostics: string; expression?: string[] }>;
}

export function operationOutcome(err: AuroraError): OperationOutcome {
  if (err instanceof InvalidResourceError) {
    return {
      resourceType: 'OperationOutcome',
      issue: err.issues.map((i) => ({
        severity: 'error',
        code: i.code,
        diagnostics: i.diagnostics,
        ...(i.expression ? { expression: [i.expression] } : {}),
      })),
    };
  }
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: issueTypeFor(err.status), diagnostics: err.message }],
  };
}

/**
 * The /fhir routes' 4xx answers as OperationOutcome. 5xx errors and errors that are not ours (a malformed
 * JSON body) go on to the app's one error handler, which logs them and answers `{error, message}`.
 */
export const operationOutcomeErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (!(err instanceof AuroraError) || err.status >= 500 || res.headersSent) {
    next(err);
    return;
  }
  res
    .status(err.status)
    .type('application/fhir+json')
    .send(JSON.stringify(operationOutcome(err)));
};
