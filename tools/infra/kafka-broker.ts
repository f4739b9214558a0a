/**
 * A real single-node Apache Kafka broker (KRaft: broker and controller in one JVM) on 127.0.0.1,
 * run from the broker jars on Maven Central. Maven fetches the jars once (its own ~/.m2 cache plus
 * a copy under the data directory); the broker's state lives in its own directory, so a stop and
 * a start keep the topics and committed offsets (that is how the tests restart it mid-stream).
 * Used by the test harness and by operators: `npm run infra -- kafka start|stop|status`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

import { LocalDaemon, preferredPort } from './local-daemon';
import { freePort, portOpen, requireTool, spawnDaemon, waitFor } from './process-util';

export const KAFKA_VERSION = '3.9.1';
const SCALA = '2.13';
const RELOAD4J_BINDING = { group: 'org.slf4j', artifact: 'slf4j-reload4j', version: '1.7.36' };

export interface Reporter {
  step(msg: string): void;
}

export interface KafkaBrokerInfo {
  bootstrap: string;
  /** A second listener with SASL/PLAIN (no TLS), for trying and testing authenticated clients. */
  saslBootstrap: string;
  sasl: { mechanism: 'plain'; username: string; password: string };
  port: number;
  controllerPort: number;
  saslPort: number;
  pid: number;
  dir: string;
}

function pom(): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>probewatch.infra</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>${RELOAD4J_BINDING.group}</groupId><artifactId>${RELOAD4J_BINDING.artifact}</artifactId><version>${RELOAD4J_BINDING.version}</version></dependency>
  </dependencies>
</project>
`;
}

/** The broker's class path: fetched with Maven on first use, then reused. */
export function ensureKafkaJars(cacheDir: string, r: Reporter): string {
  const home = path.join(cacheDir, `kafka-${KAFKA_VERSION}`);
  const lib = path.join(home, 'lib');
  const stamp = path.join(home, '.complete');
  if (existsSync(stamp)) return lib;
  requireTool('java', ['-version'], 'to run the Kafka broker (Java 17)');
  requireTool('mvn', ['-v'], 'to fetch the Kafka broker jars from Maven Central');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'pom.xml'), pom());
  r.step(`fetching Apache Kafka ${KAFKA_VERSION} broker jars from Maven Central (mvn dependency:copy-dependencies)`);
  const res = spawnSync('mvn', ['-B', '--no-transfer-progress', 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], {
    cwd: home, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) throw new Error(`mvn failed (exit ${res.status}):\n${(res.stdout + res.stderr).trim().split('\n').slice(-20).join('\n')}`);
  const jars = readdirSync(lib).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`kafka_${SCALA}-${KAFKA_VERSION}`))) throw new Error(`mvn finished but ${lib} has no kafka_${SCALA}-${KAFKA_VERSION}.jar`);
  r.step(`${jars.length} jars in ${lib}`);
  writeFileSync(stamp, new Date().toISOString());
  return lib;
}

interface Ports {
  port: number;
  controllerPort: number;
  saslPort: number;
  password: string;
}

function serverProperties(dir: string, { port, controllerPort, saslPort, password }: Ports): string {
  const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="${password}" user_broker="${password}" user_probewatch="${password}";`;
  return [
    '# written by probewatch infra: single-node KRaft broker for development and tests',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    'sasl.enabled.mechanisms=PLAIN',
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaas}`,
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=4',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

const LOG4J = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.server.BrokerServer=INFO',
  '',
].join('\n');

export class KafkaBroker extends LocalDaemon<KafkaBrokerInfo> {
  constructor(dir: string, private readonly lib: string) {
    super(dir, 'broker', 30_000);
  }

  /**
   * Starts the broker (formatting its storage the first time). Ports are kept across restarts
   * of the same directory, so clients reconnect to the same address.
   */
  async start(r: Reporter, opts: { port?: number; timeoutMs?: number } = {}): Promise<KafkaBrokerInfo> {
    const running = this.info();
    if (running) return running;
    mkdirSync(this.dir, { recursive: true });
    const saved = this.saved();
    // A throwaway SASL credential for this local broker only, kept in its state directory.
    const ports: Ports = saved
      ? { port: saved.port, controllerPort: saved.controllerPort, saslPort: saved.saslPort, password: saved.sasl.password }
      : { port: opts.port ?? (await preferredPort(9092)), controllerPort: await freePort(), saslPort: await freePort(), password: randomBytes(12).toString('hex') };
    const props = this.file('server.properties');
    writeFileSync(props, serverProperties(this.dir, ports));
    writeFileSync(this.file('log4j.properties'), LOG4J);
    const cp = `${this.lib}/*`;
    const log4j = `-Dlog4j.configuration=file:${this.file('log4j.properties')}`;
    if (!existsSync(path.join(this.dir, 'data', 'meta.properties'))) {
      // Like Kafka's own Uuid.randomUuid: an id starting with '-' would read as an option.
      let clusterId = randomBytes(16).toString('base64url');
      while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
      const fmt = spawnSync('java', ['-cp', cp, log4j, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '--config', props], { encoding: 'utf8' });
      if (fmt.status !== 0) throw new Error(`kafka storage format failed: ${fmt.stdout}${fmt.stderr}`);
    }
    if (await portOpen(ports.port)) throw new Error(`port ${ports.port} is already in use; stop what holds it or remove ${this.dir}`);
    const logFile = this.file('broker.log');
    r.step(`starting Kafka ${KAFKA_VERSION} (KRaft) on 127.0.0.1:${ports.port}`);
    const pid = spawnDaemon('java', ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-cp', cp, log4j, 'kafka.Kafka', props], { logFile, pidFile: this.pidFile });
    const info: KafkaBrokerInfo = {
      bootstrap: `127.0.0.1:${ports.port}`, saslBootstrap: `127.0.0.1:${ports.saslPort}`, sasl: { mechanism: 'plain', username: 'probewatch', password: ports.password },
      port: ports.port, controllerPort: ports.controllerPort, saslPort: ports.saslPort, pid, dir: this.dir,
    };
    this.save(info);
    await waitFor('Kafka broker', async () => (await portOpen(ports.port)) && readFileSync(logFile, 'utf8').includes('Transition from STARTING to STARTED'),
      opts.timeoutMs ?? 60_000, () => this.exitedDuringStart(logFile));
    return info;
  }
}
