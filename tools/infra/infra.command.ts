/**
 * `npm run infra -- kafka start|stop|status|reset`, `npm run infra -- clickhouse start|stop|status|reset` and
 * `npm run infra -- alertmanager start|stop|status|reset`:
 * the real components the tests use, for operators and developers. State lives under
 * $PROBEWATCH_DATA_DIR/infra/, downloads under $PROBEWATCH_DATA_DIR/cache/.
 */
import * as path from 'node:path';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import { Alertmanager, AlertmanagerInfo, ensureAlertmanager } from './alertmanager';
import { ClickHouseServer, ClickHouseServerInfo, ensureClickHouseServer } from './clickhouse-server';
import { ensureKafkaJars, KafkaBroker, KafkaBrokerInfo, Reporter } from './kafka-broker';
import type { LocalDaemon } from './local-daemon';

export const INFRA_USAGE = `usage: probewatch infra kafka start [--port N] | stop | status | reset
       probewatch infra clickhouse start [--port N] | stop | status | reset
       probewatch infra alertmanager start [--port N] | stop | status | reset`;

const reporter: Reporter = { step: (m) => process.stderr.write(`probewatch infra: ${m}\n`) };

export function kafkaBroker(paths: RuntimePaths, name = 'kafka'): KafkaBroker {
  return new KafkaBroker(path.join(paths.dataDir, 'infra', name), ensureKafkaJars(path.join(paths.dataDir, 'cache'), reporter));
}

export function clickhouseServer(paths: RuntimePaths, name = 'clickhouse'): ClickHouseServer {
  return new ClickHouseServer(path.join(paths.dataDir, 'infra', name), ensureClickHouseServer(path.join(paths.dataDir, 'cache'), reporter));
}

export function alertmanager(paths: RuntimePaths, name = 'alertmanager'): Alertmanager {
  return new Alertmanager(path.join(paths.dataDir, 'infra', name), ensureAlertmanager(path.join(paths.dataDir, 'cache'), reporter));
}

interface Component<I extends { pid: number }> {
  label: string;
  daemon: LocalDaemon<I>;
  start(): Promise<I>;
  address(info: I): string;
  started(info: I): string;
}

/** start | stop | status | reset of one component; null for an unknown action. */
async function control<I extends { pid: number }>(c: Component<I>, action: string | undefined): Promise<number | null> {
  switch (action) {
    case 'start': {
      const info = await c.start();
      process.stdout.write(`${c.address(info)}\n`);
      reporter.step(c.started(info));
      return 0;
    }
    case 'stop':
      reporter.step((await c.daemon.stop()) ? `${c.label} stopped` : `${c.label} was not running`);
      return 0;
    case 'status': {
      const info = c.daemon.info();
      process.stdout.write(info ? `running ${c.address(info)} pid ${info.pid}\n` : 'stopped\n');
      return info ? 0 : 3;
    }
    case 'reset':
      await c.daemon.destroy();
      reporter.step(`${c.label} stopped and its data removed`);
      return 0;
    default:
      return null;
  }
}

export async function runInfra(paths: RuntimePaths, argv: string[]): Promise<number> {
  const [what, action, ...rest] = argv;
  const portArg = rest.indexOf('--port');
  const port = portArg >= 0 ? Number(rest[portArg + 1]) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write(`probewatch infra: --port must be a TCP port\n`);
    return 2;
  }
  const kafka = (): Component<KafkaBrokerInfo> => {
    const b = kafkaBroker(paths);
    return {
      label: 'Kafka', daemon: b, start: () => b.start(reporter, { port }), address: (i) => i.bootstrap,
      started: (i) => `Kafka is up (pid ${i.pid}); use KAFKA_BROKERS=${i.bootstrap}\n`
        + `probewatch infra: SASL/PLAIN listener: KAFKA_BROKERS=${i.saslBootstrap} KAFKA_SASL_MECHANISM=plain KAFKA_SASL_USERNAME=${i.sasl.username}`
        + ` (password: sasl.password in ${i.dir}/broker.json)`,
    };
  };
  const clickhouse = (): Component<ClickHouseServerInfo> => {
    const s = clickhouseServer(paths);
    return {
      label: 'ClickHouse', daemon: s, start: () => s.start(reporter, { httpPort: port }), address: (i) => i.url,
      started: (i) => `ClickHouse server is up (pid ${i.pid}): CLICKHOUSE_URL=${i.url}\n`
        + 'probewatch infra: note: this is Debian\'s 18.16 server; the probewatch schema needs a current ClickHouse (see README)',
    };
  };
  const am = (): Component<AlertmanagerInfo> => {
    const a = alertmanager(paths);
    return {
      label: 'Alertmanager', daemon: a, start: () => a.start(reporter, { port }), address: (i) => i.url,
      started: (i) => `Alertmanager is up (pid ${i.pid}): in alerting.yaml, alertmanager_configs: [{url: ${i.url}}]`,
    };
  };
  const code = what === 'kafka' ? await control(kafka(), action) : what === 'clickhouse' ? await control(clickhouse(), action)
    : what === 'alertmanager' ? await control(am(), action) : null;
  if (code !== null) return code;
  process.stderr.write(`${INFRA_USAGE}\n`);
  return 2;
}
