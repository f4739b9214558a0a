/**
 * `npm run infra -- kafka start|stop|status|reset` and `npm run infra -- clickhouse start|stop|status|reset`:
 * the real components the tests use, for operators and developers. State lives under
 * $PROBEWATCH_DATA_DIR/infra/, downloads under $PROBEWATCH_DATA_DIR/cache/.
 */
import * as path from 'node:path';

import type { RuntimePaths } from '../config/runtime-paths';
import { ClickHouseServer, ensureClickHouseServer } from './clickhouse-server';
import { ensureKafkaJars, KafkaBroker, Reporter } from './kafka-broker';

export const INFRA_USAGE = `usage: probewatch infra kafka start [--port N] | stop | status | reset
       probewatch infra clickhouse start [--port N] | stop | status | reset`;

const reporter: Reporter = { step: (m) => process.stderr.write(`probewatch infra: ${m}\n`) };

export function kafkaBroker(paths: RuntimePaths, name = 'kafka'): KafkaBroker {
  return new KafkaBroker(path.join(paths.dataDir, 'infra', name), ensureKafkaJars(path.join(paths.dataDir, 'cache'), reporter));
}

export function clickhouseServer(paths: RuntimePaths, name = 'clickhouse'): ClickHouseServer {
  return new ClickHouseServer(path.join(paths.dataDir, 'infra', name), ensureClickHouseServer(path.join(paths.dataDir, 'cache'), reporter));
}

export async function runInfra(paths: RuntimePaths, argv: string[]): Promise<number> {
  const [what, action, ...rest] = argv;
  const portArg = rest.indexOf('--port');
  const port = portArg >= 0 ? Number(rest[portArg + 1]) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write(`probewatch infra: --port must be a TCP port\n`);
    return 2;
  }
  if (what === 'kafka') {
    const b = kafkaBroker(paths);
    switch (action) {
      case 'start': {
        const info = await b.start(reporter, { port });
        process.stdout.write(`${info.bootstrap}\n`);
        process.stderr.write(`probewatch infra: Kafka is up (pid ${info.pid}); use KAFKA_BROKERS=${info.bootstrap}\n`
          + `probewatch infra: SASL/PLAIN listener: KAFKA_BROKERS=${info.saslBootstrap} KAFKA_SASL_MECHANISM=plain KAFKA_SASL_USERNAME=${info.sasl.username}`
          + ` (password: sasl.password in ${info.dir}/broker.json)\n`);
        return 0;
      }
      case 'stop':
        process.stderr.write(`probewatch infra: ${(await b.stop()) ? 'Kafka stopped' : 'Kafka was not running'}\n`);
        return 0;
      case 'status': {
        const info = b.info();
        process.stdout.write(info ? `running ${info.bootstrap} pid ${info.pid}\n` : 'stopped\n');
        return info ? 0 : 3;
      }
      case 'reset':
        await b.destroy();
        process.stderr.write('probewatch infra: Kafka stopped and its data removed\n');
        return 0;
    }
  } else if (what === 'clickhouse') {
    const s = clickhouseServer(paths);
    switch (action) {
      case 'start': {
        const info = await s.start(reporter, { httpPort: port });
        process.stdout.write(`${info.url}\n`);
        process.stderr.write(`probewatch infra: ClickHouse server is up (pid ${info.pid}): CLICKHOUSE_URL=${info.url}\n`
          + 'probewatch infra: note: this is Debian\'s 18.16 server; the probewatch schema needs a current ClickHouse (see README)\n');
        return 0;
      }
      case 'stop':
        process.stderr.write(`probewatch infra: ${(await s.stop()) ? 'ClickHouse stopped' : 'ClickHouse was not running'}\n`);
        return 0;
      case 'status': {
        const info = s.info();
        process.stdout.write(info ? `running ${info.url} pid ${info.pid}\n` : 'stopped\n');
        return info ? 0 : 3;
      }
      case 'reset':
        await s.destroy();
        process.stderr.write('probewatch infra: ClickHouse stopped and its data removed\n');
        return 0;
    }
  }
  process.stderr.write(`${INFRA_USAGE}\n`);
  return 2;
}
