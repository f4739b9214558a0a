/**
 * Debian's `prometheus-alertmanager` (0.25) run without root, for the alertmanager_configs
 * receiver's tests and for operators who want to try one: `apt-get download` fetches the package
 * (a static Go binary), `dpkg -x` unpacks it under the cache directory, and it runs from there on
 * 127.0.0.1 with its own data directory and a configuration that routes everything to a null
 * receiver (what probewatch pushes shows up in its /api/v2/alerts, grouped).
 *
 * Debian's build reads its notification templates from the fixed path
 * /usr/share/prometheus/alertmanager. When the package is installed they are there; otherwise,
 * running as root, the harness puts the package's own two template files there; otherwise it
 * stops with what to install.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Reporter } from './kafka-broker';
import { LocalDaemon, preferredPort } from './local-daemon';
import { portOpen, requireTool, spawnDaemon, waitFor } from './process-util';

export interface AlertmanagerInfo {
  url: string;
  port: number;
  pid: number;
  dir: string;
}

/** The unpacked binary; downloaded and unpacked on first use. */
export function ensureAlertmanager(cacheDir: string, r: Reporter): string {
  const root = path.join(cacheDir, 'alertmanager-debian', 'root');
  const stamp = path.join(root, '..', '.complete');
  const bin = path.join(root, 'usr', 'bin', 'prometheus-alertmanager');
  if (existsSync(stamp)) return bin;
  requireTool('apt-get', ['--version'], 'to download Debian\'s prometheus-alertmanager package');
  requireTool('dpkg', ['--version'], 'to unpack Debian packages');
  const debs = path.join(root, '..', 'debs');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  mkdirSync(root, { recursive: true });
  r.step('downloading Debian\'s prometheus-alertmanager package (about 10 MB)');
  const dl = spawnSync('apt-get', ['download', 'prometheus-alertmanager'], { cwd: debs, encoding: 'utf8' });
  if (dl.status !== 0) throw new Error(`apt-get download prometheus-alertmanager failed: ${dl.stderr.trim()}`);
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    const x = spawnSync('dpkg', ['-x', path.join(debs, deb), root], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${x.stderr}`);
  }
  if (!existsSync(bin)) throw new Error(`the unpacked package has no usr/bin/prometheus-alertmanager under ${root}`);
  writeFileSync(stamp, new Date().toISOString());
  return bin;
}

export const TEMPLATE_DIR = '/usr/share/prometheus/alertmanager';

/** Makes sure the templates the binary loads from TEMPLATE_DIR exist (see the file comment). */
function ensureTemplates(bin: string, r: Reporter): void {
  if (existsSync(path.join(TEMPLATE_DIR, 'default.tmpl'))) return;
  const unpacked = path.join(path.dirname(bin), '..', 'share', 'prometheus', 'alertmanager');
  if (process.getuid?.() !== 0) {
    throw new Error(`Debian's Alertmanager reads its templates from ${TEMPLATE_DIR}, which does not exist: install the package (sudo apt-get install prometheus-alertmanager) or run as root`);
  }
  r.step(`installing the package's templates into ${TEMPLATE_DIR}`);
  mkdirSync(TEMPLATE_DIR, { recursive: true });
  for (const f of ['default.tmpl', 'email.tmpl']) copyFileSync(path.join(unpacked, f), path.join(TEMPLATE_DIR, f));
}

const CONFIG = `# written by probewatch infra: everything goes to a receiver that sends nothing.
route:
  receiver: 'null'
  group_by: ['alertname', 'tenant']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: 'null'
`;

export class Alertmanager extends LocalDaemon<AlertmanagerInfo> {
  constructor(dir: string, private readonly bin: string) {
    super(dir, 'alertmanager', 10_000);
  }

  async start(r: Reporter, opts: { port?: number; timeoutMs?: number } = {}): Promise<AlertmanagerInfo> {
    const running = this.info();
    if (running) return running;
    mkdirSync(path.join(this.dir, 'data'), { recursive: true });
    const saved = this.saved();
    const port = saved?.port ?? opts.port ?? (await preferredPort(9093));
    if (await portOpen(port)) throw new Error(`port ${port} is already in use`);
    ensureTemplates(this.bin, r);
    writeFileSync(this.file('alertmanager.yml'), CONFIG);
    const logFile = this.file('alertmanager.log');
    r.step(`starting Alertmanager (Debian 0.25) on http://127.0.0.1:${port}`);
    const pid = spawnDaemon(this.bin, [
      `--config.file=${this.file('alertmanager.yml')}`, `--storage.path=${path.join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, `--cluster.listen-address=`, '--log.level=warn',
    ], { logFile, pidFile: this.pidFile, env: {}, cwd: this.dir });
    const info: AlertmanagerInfo = { url: `http://127.0.0.1:${port}`, port, pid, dir: this.dir };
    this.save(info);
    await waitFor('Alertmanager', async () => {
      try {
        return (await fetch(`${info.url}/-/ready`)).ok;
      } catch {
        return false;
      }
    }, opts.timeoutMs ?? 30_000, () => this.exitedDuringStart(logFile));
    return info;
  }
}
