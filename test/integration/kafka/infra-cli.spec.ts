/** `npm run infra -- kafka start|status|stop` as an operator runs it (the real CLI, a real broker). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { createTopicsReady } from '../../../src/kafka/topics';
import { freePort, portOpen } from '../../../tools/infra/process-util';
import { kafkaOf, kafkaPrerequisite } from '../../support/kafka-harness';
import { skipNote } from '../../support/real-model';

jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..', '..');

function cli(dataDir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'dist-tools', 'tools', 'infra', 'main.js'), ...args], { env: { ...process.env, PROBEWATCH_DATA_DIR: dataDir }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('probewatch infra kafka', () => {
  it('starts a broker that clients can use, reports its status, and stops it', async () => {
    const skip = kafkaPrerequisite();
    if (skip) return skipNote(skip);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pw-infra-'));
    const port = await freePort();
    try {
      const start = cli(dataDir, 'kafka', 'start', '--port', String(port));
      expect(start.status).toBe(0);
      expect(start.stdout.trim()).toBe(`127.0.0.1:${port}`);
      expect(start.stderr).toMatch(/use KAFKA_BROKERS=127\.0\.0\.1:\d+/);
      const admin = kafkaOf(start.stdout.trim()).admin();
      await admin.connect();
      await createTopicsReady(admin, ['infra-check'], 1);
      expect(await admin.listTopics()).toContain('infra-check');
      await admin.disconnect();
      expect(cli(dataDir, 'kafka', 'status').stdout).toMatch(new RegExp(`^running 127\\.0\\.0\\.1:${port} pid \\d+`));
      // Starting again is a no-op that reports the same address.
      expect(cli(dataDir, 'kafka', 'start').stdout.trim()).toBe(`127.0.0.1:${port}`);
    } finally {
      const stop = cli(dataDir, 'kafka', 'stop');
      expect(stop.stderr).toMatch(/Kafka stopped/);
    }
    expect(await portOpen(port)).toBe(false);
    const status = cli(dataDir, 'kafka', 'status');
    expect(status.status).toBe(3);
    expect(status.stdout.trim()).toBe('stopped');
    const bad = cli(dataDir, 'kafka', 'launch');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/usage: probewatch infra kafka start/);
  });
});
