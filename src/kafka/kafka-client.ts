/** The kafkajs client of one role of an instance (ingest, tests), with kafkajs' logs mapped to ours. */
import { Kafka, logLevel, SASLOptions } from 'kafkajs';

import type { KafkaSettings } from './kafka-settings';

export type KafkaLog = (level: 'log' | 'warn' | 'error', msg: string) => void;

export function kafkaClient(s: KafkaSettings, log: KafkaLog, role: string): Kafka {
  return new Kafka({
    clientId: `${s.clientId}-${role}`,
    brokers: s.brokers,
    ssl: s.ssl ? { rejectUnauthorized: s.ssl.rejectUnauthorized, ca: s.ssl.ca ? [s.ssl.ca] : undefined, cert: s.ssl.cert, key: s.ssl.key } : undefined,
    sasl: s.sasl ? ({ mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password } as SASLOptions) : undefined,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 12 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const msg = `kafka ${namespace}: ${entry.message}${entry.error ? ` (${entry.error})` : ''}`;
      // kafkajs logs every failed request of a connection as an error, including the retriable
      // ones it then retries (coordinator loading, concurrent transactions); those are warnings.
      log(level <= logLevel.ERROR && namespace !== 'Connection' ? 'error' : 'warn', msg);
    },
  });
}
