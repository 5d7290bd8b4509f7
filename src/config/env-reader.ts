export type Env = Readonly<Record<string, string | undefined>>;

/** Thrown when the environment cannot be turned into a valid configuration. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Parley cannot start, the configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
/** The longest duration taken: ten years. */
const MAX_DURATION_DAYS = 3650;
const MAX_DURATION_SECONDS = MAX_DURATION_DAYS * 86_400;

/**
 * Reads typed values out of the environment and collects every problem instead of stopping at
 * the first, so one failed start names everything that needs fixing.
 */
export class EnvReader {
  readonly problems: string[] = [];

  /** `asked` collects every name read (a `.env` name that nothing reads is worth a warning). */
  constructor(
    private readonly env: Env,
    private readonly asked?: Set<string>,
  ) {}

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < range.min || value > range.max) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not a whole number from ${range.min} to ${range.max}; set it to one (default ${fallback}).`,
      );
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T, normalise: (s: string) => string = (s) => s): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = normalise(raw) as T;
    if (!values.includes(value)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} is not one of ${values.join(', ')}; pick one (default ${fallback}).`);
      return fallback;
    }
    return value;
  }

  /** Durations like 900, 90s, 15m, 12h or 30d, returned in seconds; at least `minSeconds`, and never 0. */
  duration(name: string, fallback: string, minSeconds = 0): number {
    const raw = this.raw(name) ?? fallback;
    const match = DURATION.exec(raw);
    if (!match) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)} is not a duration; use a number of seconds or a number with ms, s, m, h or d (e.g. ${fallback}).`,
      );
      return parseSimpleDuration(fallback);
    }
    const seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? 's'];
    const least = Math.max(minSeconds, 1);
    if (seconds < least) {
      this.problems.push(`${name}=${JSON.stringify(raw)} is too short; it must be at least ${least} s (e.g. ${fallback}).`);
      return parseSimpleDuration(fallback);
    }
    // Token lifetimes go into JWTs and timestamps: whole seconds, and a span a date can hold.
    if (!Number.isInteger(seconds)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} is not a whole number of seconds (e.g. ${fallback}).`);
      return parseSimpleDuration(fallback);
    }
    if (seconds > MAX_DURATION_SECONDS) {
      this.problems.push(`${name}=${JSON.stringify(raw)} is too long; it must be at most ${MAX_DURATION_DAYS}d (e.g. ${fallback}).`);
      return parseSimpleDuration(fallback);
    }
    return seconds;
  }

  /**
   * A URL of one of `protocols`. `needsHost`: one without a host (smtp://, whose client would
   * quietly use localhost) is a problem; PostgreSQL's URLs may leave it out for a Unix socket.
   */
  url(name: string, protocols: readonly string[], { needsHost = false } = {}): URL | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    try {
      const url = new URL(raw);
      if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
        this.problems.push(`${name} must be a ${protocols.join(' or ')}:// URL, got ${JSON.stringify(redact(raw))}.`);
        return undefined;
      }
      if (needsHost && url.hostname === '') {
        this.problems.push(`${name}=${JSON.stringify(redact(raw))} names no host; write it as ${protocols[0]}://host:port….`);
        return undefined;
      }
      return url;
    } catch {
      this.problems.push(`${name} is not a valid URL: ${JSON.stringify(redact(raw))}; write it as ${protocols[0]}://host:port/….`);
      return undefined;
    }
  }

  list(name: string): string[] | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }

  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message); // MODULES=all,all says it once
  }

  private raw(name: string): string | undefined {
    this.asked?.add(name);
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }
}

function parseSimpleDuration(value: string): number {
  const match = DURATION.exec(value);
  return match ? Number(match[1]) * UNIT_SECONDS[match[2] ?? 's'] : 0;
}

/** Hides the password part of a URL so configuration errors never print secrets. */
export function redact(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    // The drivers take a password in the query too (`?password=` for PostgreSQL and Redis, `?pass=` for SMTP).
    for (const name of [...url.searchParams.keys()]) if (SECRET_PARAMETER.test(name)) url.searchParams.set(name, '***');
    return url.toString();
  } catch {
    return raw
      .replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')
      .replace(/([?&](?:pass|passwd|password|pwd|sslpassword|[^=&#]*(?:secret|token|api_?key)[^=&#]*)=)[^&#]*/gi, '$1***');
  }
}

/** Query parameters that hold a secret: a password by any of its names, or anything named a secret, token or API key. */
const SECRET_PARAMETER = /^(pass|passwd|password|pwd|sslpassword)$|secret|token|api_?key/i;
