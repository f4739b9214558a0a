'use strict';
/**
 * A delivery process for the restart test: the compiled dispatcher and worker on an embedded
 * store, as the service runs them. argv: <store dir> <alerting file> <alerts JSON or '-'>.
 * Prints `ready` once resumed (and the alerts raised), then ticks until killed.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', '..', 'dist');
const { openClickHouse } = require(path.join(dist, 'storage', 'clickhouse-client.js'));
const { migrate } = require(path.join(dist, 'storage', 'migrator.js'));
const { AlertDeliveryRepository } = require(path.join(dist, 'storage', 'alert-delivery.repository.js'));
const { AlertsRepository } = require(path.join(dist, 'storage', 'alerts.repository.js'));
const { BatchWriter } = require(path.join(dist, 'storage', 'batch-writer.js'));
const { readAlertingConfig } = require(path.join(dist, 'alerts', 'alerting', 'alerting-config.js'));
const { AlertDispatcher } = require(path.join(dist, 'alerts', 'delivery', 'dispatcher.js'));
const { DeliveryWorker } = require(path.join(dist, 'alerts', 'delivery', 'delivery-worker.js'));

async function main() {
  const [dir, file, alertsJson] = process.argv.slice(2);
  const client = await openClickHouse({ kind: 'embedded', location: dir, database: 'pwrestart' });
  await migrate(client);
  const { config, problems } = readAlertingConfig(file, readFileSync(file, 'utf8'), process.env);
  if (!config) throw new Error(JSON.stringify(problems));
  const repo = new AlertDeliveryRepository(client);
  const writer = new BatchWriter(client, { maxRows: 1000, flushMs: 10, maxBackoffMs: 100 });
  const alerts = new AlertsRepository(client, writer);
  const worker = new DeliveryWorker(repo, () => config, 'restart-test', { kafka: null }, { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, concurrency: 8, pollMs: 50 },
    (level, m) => process.stderr.write(`[child ${level}] ${m}\n`));
  const d = new AlertDispatcher({ repo, config: () => config, evidence: async () => null, latestAlerts: (fps) => alerts.latestOf(fps), silences: () => [],
    instance: 'restart-test', externalURL: 'http://x', onQueued: () => worker.wake() });
  await d.resume();
  if (alertsJson !== '-') {
    const list = JSON.parse(alertsJson);
    await alerts.store(list);
    await d.raised(list);
  }
  worker.start();
  process.stdout.write('ready\n');
  const loop = async () => {
    await d.tick().catch((e) => process.stderr.write(`[child] tick: ${e.message}\n`));
    setTimeout(loop, 50);
  };
  void loop();
  process.on('SIGTERM', async () => {
    await worker.stop(2000);
    await writer.close();
    await client.close();
    process.exit(0);
  });
}

main().catch((e) => {
  process.stderr.write(`[child] ${e.stack}\n`);
  process.exit(1);
});
