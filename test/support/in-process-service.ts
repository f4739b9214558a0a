/**
 * The whole service in the test's process: the real model's data directory, a fresh embedded
 * store, accept log, reports and admin key under `dir`, and an alerting file that routes to a
 * receiver sending nothing. `env` adds or overrides settings; `listen` serves HTTP on a free port
 * of 127.0.0.1 (for a browser) instead of only initialising the app (for supertest).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { NestExpressApplication } from '@nestjs/platform-express';

import { loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';

export async function startInProcess(dataDir: string, dir: string, env: Record<string, string> = {}, opts: { listen?: boolean } = {}): Promise<{ app: NestExpressApplication; admin: string }> {
  writeFileSync(path.join(dir, 'alerting.yaml'), 'route: {receiver: quiet, group_wait: 0s}\nreceivers:\n  - name: quiet\n');
  const cfg = loadConfig({
    ...process.env, PROBEWATCH_DATA_DIR: dataDir, PROBEWATCH_ADMIN_KEY_FILE: path.join(dir, 'admin.key'), PROBEWATCH_PSEUDONYM_KEY_FILE: path.join(dir, 'pseudonym.key'), PROBEWATCH_ALERTING_FILE: path.join(dir, 'alerting.yaml'),
    PROBEWATCH_ACCEPT_LOG_DIR: path.join(dir, 'accept-log'), PROBEWATCH_WRITER_FLUSH_MS: '100', PROBEWATCH_RULES_WATCH: 'false', PROBEWATCH_REPORTS_DIR: path.join(dir, 'reports'), ...env,
  });
  cfg.store = { kind: 'embedded', location: path.join(dir, 'clickhouse'), database: 'probewatch' };
  const app = await createApp(cfg);
  if (opts.listen) await app.listen(0, '127.0.0.1');
  else await app.init();
  return { app, admin: readFileSync(path.join(dir, 'admin.key'), 'utf8').trim() };
}
