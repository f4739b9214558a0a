/**
 * Kafka settings from the environment (parsed with the rest of the configuration at boot).
 * Kafka ingestion is on when KAFKA_BROKERS is set. TLS and SASL follow kafkajs' options.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

import { envReader, withoutCredentials } from '../config/env-reader';
import { resolveRuntimePaths } from '../config/runtime-paths';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  groupId: string;
  topic: string;
  dlqTopic: string;
  alertsTopic: string;
  instanceId: string;
  /** Transactional id of this instance's producer: alerts, dead letters and offsets commit together. */
  transactionalId: string;
  ssl: null | { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string };
  sasl: null | { mechanism: SaslMechanism; username: string; password: string };
  maxMessageBytes: number;
  chunkEvents: number;
  partitionsConcurrency: number;
  createTopics: boolean;
  topicPartitions: number;
  /**
   * Where chunks are recorded in flight ($PROBEWATCH_DATA_DIR/kafka-inflight), so that a message
   * that crashed the process is quarantined after the restart (see poison-ledger.ts); null: off.
   */
  inflightDir: string | null;
}

export const KAFKA_CONFIG_DOC: Array<{ name: string; default: string; meaning: string }> = [
  { name: 'KAFKA_BROKERS', default: '(unset: no Kafka)', meaning: 'bootstrap brokers, comma-separated (host:port); turns Kafka ingestion on' },
  { name: 'KAFKA_TOPIC', default: 'probewatch.events', meaning: 'topic of events (same contract as POST /v1/events, one event per message)' },
  { name: 'KAFKA_GROUP_ID', default: 'probewatch', meaning: 'consumer group; instances in one group share the partitions' },
  { name: 'KAFKA_DLQ_TOPIC', default: 'probewatch.events.dlq', meaning: 'dead-letter topic (original bytes + error headers)' },
  { name: 'KAFKA_ALERTS_TOPIC', default: 'probewatch.alerts', meaning: 'alerts topic (JSON, key = alert_id)' },
  { name: 'KAFKA_CLIENT_ID', default: 'probewatch', meaning: 'Kafka client id' },
  { name: 'PROBEWATCH_INSTANCE_ID', default: '(host name)', meaning: 'stable id of this instance; must differ between instances of one group' },
  { name: 'KAFKA_SSL', default: 'false', meaning: 'TLS to the brokers (true also when any KAFKA_SSL_*_FILE is set)' },
  { name: 'KAFKA_SSL_CA_FILE / KAFKA_SSL_CERT_FILE / KAFKA_SSL_KEY_FILE', default: '(unset)', meaning: 'PEM files: CA bundle, client certificate and key (mTLS)' },
  { name: 'KAFKA_SSL_REJECT_UNAUTHORIZED', default: 'true', meaning: 'verify the brokers\' certificates' },
  { name: 'KAFKA_SASL_MECHANISM', default: '(unset)', meaning: 'plain, scram-sha-256 or scram-sha-512' },
  { name: 'KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)', default: '(unset)', meaning: 'SASL credentials' },
  { name: 'KAFKA_MAX_MESSAGE_BYTES', default: '1048576', meaning: 'larger messages go to the DLQ as oversize' },
  { name: 'KAFKA_CHUNK_EVENTS', default: '64', meaning: 'events per commit (one Kafka transaction per chunk)' },
  { name: 'KAFKA_PARTITIONS_CONCURRENCY', default: '2', meaning: 'partitions processed at once by one instance' },
  { name: 'KAFKA_CREATE_TOPICS', default: 'true', meaning: 'create missing topics at start' },
  { name: 'KAFKA_TOPIC_PARTITIONS', default: '4', meaning: 'partitions of topics probewatch creates' },
];

export function parseKafkaSettings(env: NodeJS.ProcessEnv, problems: string[]): KafkaSettings | null {
  const raw = env.KAFKA_BROKERS?.trim();
  if (!raw) return null;
  const brokers = raw.split(',').map((b) => b.trim()).filter(Boolean);
  for (const b of brokers) if (!/^[A-Za-z0-9_.\-[\]:]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS: '${withoutCredentials(b)}' is not host:port`);
  const { int, bool } = envReader(env, problems);
  const file = (name: string): string | undefined => {
    const p = env[name];
    if (!p) return undefined;
    if (!existsSync(p)) {
      problems.push(`${name}=${JSON.stringify(p)}: file not found`);
      return undefined;
    }
    return readFileSync(p, 'utf8');
  };
  const topicName = (name: string, def: string): string => {
    const v = env[name] || def;
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(v)) problems.push(`${name}=${JSON.stringify(v)}: not a valid topic name`);
    return v;
  };
  const ca = file('KAFKA_SSL_CA_FILE');
  const cert = file('KAFKA_SSL_CERT_FILE');
  const key = file('KAFKA_SSL_KEY_FILE');
  const sslOn = bool('KAFKA_SSL', false) || Boolean(ca || cert || key);
  let sasl: KafkaSettings['sasl'] = null;
  const mech = env.KAFKA_SASL_MECHANISM;
  if (mech) {
    if (mech !== 'plain' && mech !== 'scram-sha-256' && mech !== 'scram-sha-512') problems.push(`KAFKA_SASL_MECHANISM=${JSON.stringify(mech)}: expected plain, scram-sha-256 or scram-sha-512`);
    const username = env.KAFKA_SASL_USERNAME ?? '';
    const password = env.KAFKA_SASL_PASSWORD ?? file('KAFKA_SASL_PASSWORD_FILE')?.trim() ?? '';
    if (!username) problems.push('KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM');
    if (!password) problems.push('KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE): required with KAFKA_SASL_MECHANISM');
    sasl = { mechanism: mech as SaslMechanism, username, password };
  }
  const clientId = env.KAFKA_CLIENT_ID || 'probewatch';
  const groupId = env.KAFKA_GROUP_ID || 'probewatch';
  const instanceId = env.PROBEWATCH_INSTANCE_ID || hostname();
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(instanceId)) problems.push(`PROBEWATCH_INSTANCE_ID=${JSON.stringify(instanceId)}: letters, digits, '.', '_' and '-' only`);
  return {
    brokers,
    clientId,
    groupId,
    topic: topicName('KAFKA_TOPIC', 'probewatch.events'),
    dlqTopic: topicName('KAFKA_DLQ_TOPIC', 'probewatch.events.dlq'),
    alertsTopic: topicName('KAFKA_ALERTS_TOPIC', 'probewatch.alerts'),
    instanceId,
    transactionalId: `${clientId}.${groupId}.${instanceId}`,
    ssl: sslOn ? { rejectUnauthorized: bool('KAFKA_SSL_REJECT_UNAUTHORIZED', true), ca, cert, key } : null,
    sasl,
    maxMessageBytes: int('KAFKA_MAX_MESSAGE_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    chunkEvents: int('KAFKA_CHUNK_EVENTS', 64, 1, 10_000),
    partitionsConcurrency: int('KAFKA_PARTITIONS_CONCURRENCY', 2, 1, 64),
    createTopics: bool('KAFKA_CREATE_TOPICS', true),
    topicPartitions: int('KAFKA_TOPIC_PARTITIONS', 4, 1, 10_000),
    inflightDir: path.join(resolveRuntimePaths(env).dataDir, 'kafka-inflight'),
  };
}
