/**
 * Typed readers of environment variables that collect every problem instead of throwing at the
 * first, so a bad configuration is reported whole (shared by the service and Kafka settings).
 */
export interface EnvReader {
  int(name: string, def: number, min: number, max: number): number;
  bool(name: string, def: boolean): boolean;
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T;
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
  };
}
