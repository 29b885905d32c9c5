/**
 * The one place errors become HTTP answers. Every answer is JSON `{ "error": <code>, "message": <text> }`;
 * a 503 carries Retry-After; an unexpected error is a bare 500 (its cause chain goes to the log, redacted).
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AuroraError, type Logger } from '@aurora/common';
import { translateDbError } from '../store/db.js';

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (rawErr, req, res, _next) => {
    const err = translateDbError(rawErr);
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof AuroraError) {
      if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
      if (err.status >= 500) logger.warn('request failed', { method: req.method, path: req.path, code: err.code, err });
      res.status(err.status).json({ error: err.code, message: err.message });
      return;
    }
    // body-parser errors: malformed JSON, too large, wrong charset.
    const status =
      (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    const type = (err as { type?: string }).type;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message =
        type === 'entity.parse.failed'
          ? 'request body is not valid JSON'
          : type === 'entity.too.large'
            ? 'request body is too large'
            : type === 'encoding.unsupported' || type === 'charset.unsupported'
              ? 'request body must be UTF-8 JSON'
              : 'bad request';
      res.status(status).json({ error: type ?? 'bad_request', message });
      return;
    }
    logger.error('unexpected error', { method: req.method, path: req.path, err });
    res.status(500).json({ error: 'internal', message: 'internal error; see the app log' });
  };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', message: `no route for ${req.method} ${req.path}` });
};

/** Requests with a body must say it is JSON: anything else is refused before a route sees it. */
export const requireJson: RequestHandler = (req, res, next) => {
  const hasBody =
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
    req.headers['transfer-encoding'] !== undefined;
  if (
    (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH') &&
    hasBody &&
    !req.is('application/json') &&
    !req.is('application/fhir+json')
  ) {
    res
      .status(415)
      .json({ error: 'unsupported_media_type', message: 'send the body as JSON with content-type: application/json' });
    return;
  }
  next();
};
