/**
 * Helpers for each service's one config module: env is read once, every problem is collected, and a bad
 * variable stops the process with its name, what was wrong and an example of a good value.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(
      `invalid configuration:\n  - ${problems.join('\n  - ')}\nSee .env.example for every variable, its default and why it exists.`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  private raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(name: string, fallback: string, check?: { pattern: RegExp; example: string }): string {
    const v = this.raw(name) ?? fallback;
    if (check && !check.pattern.test(v))
      this.problems.push(`${name}=${JSON.stringify(v)} is not valid; example: ${name}=${check.example}`);
    return v;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, range: { min: number; max: number }): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < range.min || n > range.max) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a whole number from ${range.min} to ${range.max}; example: ${name}=${fallback}`,
      );
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)} must be true or false; example: ${name}=${fallback}`);
    return fallback;
  }

  url(name: string, fallback: string): string {
    const v = this.raw(name) ?? fallback;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    } catch {
      this.problems.push(`${name}=${JSON.stringify(v)} must be an http(s) URL; example: ${name}=${fallback}`);
    }
    return v.replace(/\/+$/, '');
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws ConfigError with every problem found, or returns `config` frozen. */
  done<T extends object>(config: T): Readonly<T> {
    if (this.problems.length) throw new ConfigError(this.problems);
    return Object.freeze(config);
  }
}
