import { ConfigError, loadConfig } from '../../../src/config/app-config';

describe('configuration', () => {
  it('defaults to the embedded store, redacted content and port 8080', () => {
    const c = loadConfig({ PROBEWATCH_DATA_DIR: '/tmp/pw' });
    expect(c.port).toBe(8080);
    expect(c.store).toEqual({ kind: 'embedded', location: '/tmp/pw/clickhouse', database: 'probewatch' });
    expect(c.contentPolicy).toBe('redacted');
    expect(c.alerting).toMatchObject({ file: require('node:path').resolve('alerting.yaml'), watch: true, tickMs: 1000, silenceStaleDays: 30, externalUrl: 'http://127.0.0.1:8080' });
  });

  it('reads per-tenant content policies and names a bad pair', () => {
    const c = loadConfig({ PROBEWATCH_CONTENT_POLICY_BY_TENANT: 'acme=full, globex=hash' });
    expect(c.contentPolicyByTenant).toEqual({ acme: 'full', globex: 'hash' });
    expect(() => loadConfig({ PROBEWATCH_CONTENT_POLICY_BY_TENANT: 'acme=everything' })).toThrow(/PROBEWATCH_CONTENT_POLICY_BY_TENANT: 'acme=everything'/);
  });

  it('refuses the retired PROBEWATCH_WEBHOOK_URL and says where the webhook goes now', () => {
    expect(() => loadConfig({ PROBEWATCH_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).toThrow(/webhook_configs/);
  });

  it('switches to a ClickHouse server with CLICKHOUSE_URL', () => {
    const c = loadConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:8123', CLICKHOUSE_USER: 'u', CLICKHOUSE_PASSWORD: 'p' });
    expect(c.store).toMatchObject({ kind: 'server', location: 'http://127.0.0.1:8123', username: 'u', password: 'p' });
  });

  it('lists every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', PROBEWATCH_CONTENT_POLICY: 'everything', CLICKHOUSE_URL: 'ftp://x', PROBEWATCH_QUEUE_CAPACITY: '0', CLICKHOUSE_DATABASE: 'a-b' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const p = (err as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'PROBEWATCH_CONTENT_POLICY', 'CLICKHOUSE_URL', 'PROBEWATCH_QUEUE_CAPACITY', 'CLICKHOUSE_DATABASE']) expect(p).toContain(name);
  });

  it('never echoes credentials embedded in a URL or broker list', () => {
    let err: unknown;
    try {
      loadConfig({ CLICKHOUSE_URL: 'ftp://admin:s3cr3t-pw@db.internal:8123', PROBEWATCH_WEBHOOK_URL: 'gopher://hook:t0ken@x', KAFKA_BROKERS: 'user:kpass@host' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).message;
    expect(text).toContain('CLICKHOUSE_URL');
    expect(text).toContain('KAFKA_BROKERS');
    for (const secret of ['s3cr3t-pw', 'admin', 't0ken', 'kpass']) expect(text).not.toContain(secret);
  });

  it('event limits: the accepted time window follows the retention and PROBEWATCH_MAX_CLOCK_SKEW', () => {
    expect(loadConfig({}).eventLimits.timeWindow).toEqual({ maxAgeMs: 90 * 86_400_000, maxSkewMs: 3_600_000 });
    expect(loadConfig({ PROBEWATCH_RETENTION_DAYS: '7', PROBEWATCH_MAX_CLOCK_SKEW: '30s' }).eventLimits.timeWindow).toEqual({ maxAgeMs: 7 * 86_400_000, maxSkewMs: 30_000 });
    expect(() => loadConfig({ PROBEWATCH_MAX_CLOCK_SKEW: 'an hour' })).toThrow(/PROBEWATCH_MAX_CLOCK_SKEW/);
  });
});
