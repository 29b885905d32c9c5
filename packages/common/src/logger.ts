/**
 * The one logger: winston, JSON when stdout is not a TTY (docker logs, CI), readable lines on a terminal.
 *
 * Redaction happens in a format, before any transport sees the entry, so no call site can forget it:
 *  - values under keys that name secrets (token, secret_id, password, keys, data, ...) become "[REDACTED]";
 *  - token shapes (hvs./hvb./hvr. and legacy s.) are masked anywhere in a string, messages included;
 *  - values registered with `registerSecret` (unseal keys, generated passwords) are masked anywhere.
 */
import winston from 'winston';

const SECRET_KEY =
  /^(?:.*token.*|.*secret.*|.*password.*|passphrase|keys|keys_base64|unseal_?keys?.*|key|recovery_keys.*|data|value|values|authorization|cookie|x-vault-token|credentials?|hmac_key)$/i;
const TOKEN_SHAPE = /\b(?:hv[sbr]\.[A-Za-z0-9_-]{20,}|s\.[A-Za-z0-9]{24})\b/g;
const REDACTED = '[REDACTED]';

// Bounded: registered secrets are long-lived material (unseal keys, admin secrets), not per-request values.
const MAX_REGISTERED = 256;
const registered = new Set<string>();

/**
 * Masks `value` wherever it would appear in a log entry from now on. Short values are ignored (too many false hits).
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 8) return;
  if (registered.size >= MAX_REGISTERED) {
    const oldest = registered.values().next().value as string;
    registered.delete(oldest);
  }
  registered.add(value);
}

export function redactString(text: string): string {
  let out = text.replace(TOKEN_SHAPE, REDACTED);
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Deep copy of `value` with secrets masked; cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    const status = (value as { status?: unknown }).status;
    if (status !== undefined) out.status = status;
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' && typeof v !== 'number'
        ? REDACTED
        : redact(v, depth + 1, seen);
  }
  return out;
}

const redaction = winston.format((info) => {
  const { level, message, ...rest } = info as { level: string; message: unknown } & Record<string | symbol, unknown>;
  const clean = redact(rest) as Record<string, unknown>;
  const result = Object.assign(info, clean);
  result.message = typeof message === 'string' ? redactString(message) : redact(message);
  result.level = level;
  return result;
});

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: string;
  /** Force JSON (true) or text (false); default: JSON unless stdout is a TTY. */
  json?: boolean;
}

export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const json = options.json ?? !process.stdout.isTTY;
  const format = json
    ? winston.format.combine(redaction(), winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        redaction(),
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        winston.format.printf((info) => {
          const { level, message, timestamp, service: _s, ...rest } = info as Record<string, unknown>;
          const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${service} ${String(level)}: ${String(message)}${extra}`;
        }),
      );
  return winston.createLogger({
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    defaultMeta: { service },
    format,
    // stderr keeps stdout for what users grep (the banner); `docker logs 2>&1` shows both.
    transports: [
      new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] }),
    ],
  });
}
