/**
 * docker/docker-compose.yml as Docker would read it: validated by `docker-compose config`
 * (Debian's 1.29, which checks a file without an engine; it has no JSON output, so its YAML is
 * parsed), then the stack's promises are asserted: the services, probewatch replicas sharing one
 * Kafka consumer group, a health check everywhere, named volumes, no secret in the file, and every
 * file it mounts present in the repository.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { parse } from 'yaml';

import { readAlertingConfig } from '../../../src/alerts/alerting/alerting-config';
import { skipNote } from '../../support/real-model';

jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..', '..');
const COMPOSE = path.join('docker', 'docker-compose.yml');
/** Test-only values for the variables the file requires (it has no defaults for secrets). */
const SECRETS = { CLICKHOUSE_PASSWORD: 'test-only-clickhouse', GRAFANA_ADMIN_PASSWORD: 'test-only-grafana' };

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] | string };
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}
interface Compose { services: Record<string, Service>; volumes?: Record<string, unknown> }

function composeWorks(): boolean {
  const r = spawnSync('docker-compose', ['version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** docker-compose, installed from Debian when missing and running as root; else the reason to skip. */
function prerequisite(): string | null {
  if (composeWorks()) return null;
  let reason = 'docker-compose not found (Debian: apt-get install docker-compose)';
  if (process.getuid?.() === 0 && !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error) {
    process.stderr.write('[deploy] docker-compose not found: installing Debian\'s docker-compose (apt-get)\n');
    // Progress goes to the test's stderr; `apt-get update` only when the package lists are stale.
    const install = (): number | null => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-compose'], { stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status;
    if (install() !== 0) {
      spawnSync('apt-get', ['update'], { stdio: ['ignore', process.stderr, process.stderr] });
      install();
    }
    if (composeWorks()) return null;
    reason = 'docker-compose could not be installed with apt-get';
  }
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

function composeConfig(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in SECRETS)));
  return spawnSync('docker-compose', ['-f', COMPOSE, 'config'], { cwd: root, encoding: 'utf8', env: { ...clean, ...env } });
}

describe('docker/docker-compose.yml (docker-compose config)', () => {
  const skip = prerequisite();
  let compose: Compose;
  let probewatch: Array<[string, Service]>;

  beforeAll(() => {
    if (skip) return;
    const r = composeConfig(SECRETS);
    if (r.status !== 0) throw new Error(`docker-compose config failed (${r.status}):\n${r.stderr}`);
    compose = parse(r.stdout) as Compose;
    probewatch = Object.entries(compose.services).filter(([, s]) => s.build?.dockerfile === 'docker/Dockerfile');
  });

  it('validates, and has Kafka (KRaft), ClickHouse, Grafana, Prometheus, Alertmanager and probewatch replicas', () => {
    if (skip) return skipNote(skip);
    const s = compose.services;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['kafka', 'clickhouse', 'grafana', 'prometheus', 'alertmanager']));
    expect(s.kafka.image).toMatch(/^apache\/kafka:/);
    expect(s.kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(s.kafka.environment?.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/@kafka:/);
    expect(s.clickhouse.image).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(s.grafana.image).toMatch(/^grafana\/grafana:/);
    expect(s.grafana.environment?.GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource');
    expect(s.prometheus.image).toMatch(/^prom\/prometheus:/);
    expect(s.alertmanager.image).toMatch(/^prom\/alertmanager:/);
  });

  it('runs probewatch replicas in one Kafka consumer group, on the stack\'s Kafka and ClickHouse', () => {
    if (skip) return skipNote(skip);
    expect(probewatch.length).toBeGreaterThanOrEqual(2);
    const env = probewatch.map(([, s]) => s.environment ?? {});
    expect(new Set(env.map((e) => e.KAFKA_GROUP_ID)).size).toBe(1);
    expect(env[0].KAFKA_GROUP_ID).toBeTruthy();
    // Each its own instance id (transactional id, audit chain) and its own data volume.
    expect(new Set(env.map((e) => e.PROBEWATCH_INSTANCE_ID)).size).toBe(probewatch.length);
    const dataVolumes = probewatch.map(([, s]) => (s.volumes ?? []).find((v) => v.split(':')[1] === '/var/lib/probewatch'));
    expect(new Set(dataVolumes).size).toBe(probewatch.length);
    for (const e of env) {
      expect(e.KAFKA_BROKERS).toBe('kafka:9092');
      expect(new URL(e.CLICKHOUSE_URL).hostname).toBe('clickhouse');
      expect(e.CLICKHOUSE_PASSWORD).toBe(SECRETS.CLICKHOUSE_PASSWORD);
      expect(e.PROBEWATCH_ALERTING_FILE).toBe('/etc/probewatch/alerting.yaml');
    }
    // One pseudonym key for all replicas, outside the per-replica data volume, in one shared named volume.
    const keyFiles = new Set(env.map((e) => e.PROBEWATCH_PSEUDONYM_KEY_FILE));
    expect(keyFiles.size).toBe(1);
    const keyDir = path.posix.dirname([...keyFiles][0] as string);
    expect(keyDir).not.toBe('/var/lib/probewatch');
    const shared = probewatch.map(([, s]) => (s.volumes ?? []).find((v) => v.split(':')[1] === keyDir));
    expect(shared.every((v) => v !== undefined && !v.startsWith('/'))).toBe(true);
    expect(new Set(shared).size).toBe(1);
  });

  it('gives every service a health check, and keeps state in named volumes', () => {
    if (skip) return skipNote(skip);
    for (const [name, s] of Object.entries(compose.services)) {
      expect([name, Array.isArray(s.healthcheck?.test) ? s.healthcheck!.test.length > 0 : Boolean(s.healthcheck?.test)]).toEqual([name, true]);
    }
    const named = Object.values(compose.services).flatMap((s) => s.volumes ?? []).map((v) => v.split(':')[0]).filter((src) => !src.startsWith('/'));
    expect(named.length).toBeGreaterThan(0);
    for (const v of named) expect(Object.keys(compose.volumes ?? {})).toContain(v);
  });

  it('mounts only files that exist in the repository, where Grafana, Prometheus and Alertmanager read them', () => {
    if (skip) return skipNote(skip);
    const binds = Object.values(compose.services).flatMap((s) => s.volumes ?? []).map((v) => v.split(':')).filter(([src]) => src.startsWith('/'));
    for (const [src] of binds) expect([src, existsSync(src)]).toEqual([src, true]);
    const targets = Object.fromEntries(binds.map(([src, target]) => [target, path.relative(root, src)]));
    expect(targets['/etc/grafana/provisioning']).toBe(path.join('docker', 'grafana', 'provisioning'));
    expect(targets['/var/lib/grafana/dashboards']).toBe('dashboards');
    expect(targets['/etc/prometheus/prometheus.yml']).toBe(path.join('docker', 'prometheus', 'prometheus.yml'));
    expect(targets['/etc/alertmanager/alertmanager.yml']).toBe(path.join('docker', 'alertmanager', 'alertmanager.yml'));
    expect(targets['/etc/probewatch/alerting.yaml']).toBe(path.join('docker', 'alerting.yaml'));
  });

  it('holds no secret: without docker/.env it refuses to start and names the variable', () => {
    if (skip) return skipNote(skip);
    const r = composeConfig({});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('CLICKHOUSE_PASSWORD');
  });

  it('has Prometheus scrape every replica (with a key when /metrics needs one) and alert to the stack\'s Alertmanager', () => {
    if (skip) return skipNote(skip);
    interface Job { job_name: string; metrics_path?: string; authorization?: unknown; static_configs: Array<{ targets: string[] }> }
    const prom = parse(readFileSync(path.join(root, 'docker', 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: Job[]; alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } };
    const job = prom.scrape_configs.find((j) => j.job_name === 'probewatch')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job.static_configs.flatMap((c) => c.targets).sort()).toEqual(probewatch.map(([name]) => `${name}:8080`).sort());
    // /metrics is @Requires('metrics:read'), open unless PROBEWATCH_METRICS_AUTH=true.
    if (probewatch.some(([, s]) => s.environment?.PROBEWATCH_METRICS_AUTH === 'true')) expect(job.authorization).toBeDefined();
    expect(prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets))).toContain('alertmanager:9093');
  });

  it('routes probewatch\'s alerts to the stack\'s Alertmanager with a valid alerting file', () => {
    if (skip) return skipNote(skip);
    const file = path.join(root, 'docker', 'alerting.yaml');
    const { config, problems } = readAlertingConfig(file, readFileSync(file, 'utf8'), {});
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const urls = [...config!.receivers.values()].flatMap((r) => r.alertmanager.map((a) => a.url));
    expect(urls).toContain('http://alertmanager:9093');
    expect(config!.receivers.get(config!.route.receiver)?.alertmanager.length).toBeGreaterThan(0);
  });
});
