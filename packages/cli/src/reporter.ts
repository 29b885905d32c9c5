/**
 * The CLI's own messages, on stderr, each line prefixed with `aurora-secrets:` so that they stand apart from
 * the child's output. Callers pass messages that never contain a resolved value.
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function stderrReporter(stream: NodeJS.WritableStream = process.stderr, quiet = false): Reporter {
  const line = (level: string, message: string) => stream.write(`aurora-secrets: ${level}${message}\n`);
  return {
    info: (m) => {
      if (!quiet) line('', m);
    },
    warn: (m) => line('warning: ', m),
    error: (m) => line('error: ', m),
  };
}
