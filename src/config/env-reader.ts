/**
 * Typed readers of environment variables that collect every problem instead of throwing at the
 * first, so a bad configuration is reported whole (shared by the service and Kafka settings).
 */
export interface EnvReader {
  int(name: string, def: number, min: number, max: number): number;
  bool(name: string, def: boolean): boolean;
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T;
  /** `500ms`, `30s`, `15m`, `1h`, `2d` (one unit), in milliseconds. */
  duration(name: string, defMs: number, minMs: number, maxMs: number): number;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A URL or broker list with any `user:password@` part masked, for error messages and logs. */
export function withoutCredentials(text: string): string {
  return text.replace(/[^\s/@,]+@/g, '***@');
}

export function envReader(env: NodeJS.ProcessEnv, problems: string[]): EnvReader {
  const raw = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  return {
    int(name, def, min, max) {
      const v = raw(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${name}=${JSON.stringify(v)}: expected an integer in ${min}..${max}`);
        return def;
      }
      return n;
    },
    bool(name, def) {
      const v = raw(name);
      if (v === undefined) return def;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      problems.push(`${name}=${JSON.stringify(v)}: expected true or false`);
      return def;
    },
    oneOf(name, def, allowed) {
      const v = raw(name);
      if (v === undefined) return def;
      if (!(allowed as readonly string[]).includes(v)) {
        problems.push(`${name}=${JSON.stringify(v)}: expected one of ${allowed.join(', ')}`);
        return def;
      }
      return v as typeof def;
    },
    duration(name, defMs, minMs, maxMs) {
      const v = raw(name);
      if (v === undefined) return defMs;
      const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
      const ms = m ? Number(m[1]) * DURATION_UNIT_MS[m[2]] : NaN;
      if (!(ms >= minMs && ms <= maxMs)) {
        problems.push(`${name}=${JSON.stringify(v)}: expected a duration such as 30s, 15m or 1h, at most ${maxMs / 3_600_000}h`);
        return defMs;
      }
      return ms;
    },
  };
}
