/**
 * Debian's `clickhouse-server` (18.16, the only server package these machines can install) run
 * without root: `apt-get download` fetches the package and the shared libraries the system lacks,
 * `dpkg -x` unpacks them under the data directory, and the server runs from there with
 * LD_LIBRARY_PATH and a hand-written config on 127.0.0.1. It exercises the network path
 * (@clickhouse/client over HTTP, the writer's batching, retries and server down/up). It is too
 * old for the project's schema (no DateTime64, TTL or query parameters), which targets current
 * ClickHouse; see docs in README ("ClickHouse server").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Reporter } from './kafka-broker';
import { LocalDaemon, preferredPort } from './local-daemon';
import { freePort, portOpen, requireTool, spawnDaemon, waitFor } from './process-util';

export const CLICKHOUSE_PACKAGES = ['clickhouse-server', 'clickhouse-common'];

export interface ClickHouseServerInfo {
  url: string;
  httpPort: number;
  tcpPort: number;
  pid: number;
  dir: string;
}

function installedPackages(): Set<string> {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package}\\n'], { encoding: 'utf8' });
  return new Set(r.status === 0 ? r.stdout.split('\n').filter(Boolean) : []);
}

/** Library packages the server needs that this system does not have (recursively). */
function missingDependencies(): string[] {
  const r = spawnSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances',
    ...CLICKHOUSE_PACKAGES], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`apt-cache depends failed: ${r.stderr}`);
  const have = installedPackages();
  const names = new Set(r.stdout.split('\n').filter((l) => l && !l.startsWith(' ') && !l.includes('<')).map((l) => l.trim()));
  // Only libraries (and their data packages) are needed to run the binary from a private prefix.
  return [...names].filter((n) => !have.has(n) && (/^lib/.test(n) || /-common$/.test(n)) && !CLICKHOUSE_PACKAGES.includes(n)).sort();
}

/** The unpacked server under `cacheDir`; downloaded and unpacked on first use. */
export function ensureClickHouseServer(cacheDir: string, r: Reporter): string {
  const root = path.join(cacheDir, 'clickhouse-server-debian', 'root');
  const stamp = path.join(root, '..', '.complete');
  if (existsSync(stamp)) return root;
  requireTool('apt-get', ['--version'], 'to download Debian\'s clickhouse-server package');
  requireTool('dpkg', ['--version'], 'to unpack Debian packages');
  const debs = path.join(root, '..', 'debs');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  mkdirSync(root, { recursive: true });
  const pkgs = [...CLICKHOUSE_PACKAGES, ...missingDependencies()];
  r.step(`downloading ${pkgs.length} Debian packages (clickhouse-server and the libraries this system lacks)`);
  const dl = spawnSync('apt-get', ['download', ...pkgs], { cwd: debs, encoding: 'utf8' });
  if (dl.status !== 0) throw new Error(`apt-get download failed: ${dl.stderr.trim()}`);
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    const x = spawnSync('dpkg', ['-x', path.join(debs, deb), root], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${x.stderr}`);
  }
  if (!existsSync(path.join(root, 'usr', 'sbin', 'clickhouse-server'))) throw new Error(`unpacked packages have no usr/sbin/clickhouse-server under ${root}`);
  writeFileSync(stamp, new Date().toISOString());
  return root;
}

function config(dir: string, httpPort: number, tcpPort: number): string {
  const d = (p: string): string => path.join(dir, p) + '/';
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${d('data')}</path>
  <tmp_path>${d('tmp')}</tmp_path>
  <user_files_path>${d('user_files')}</user_files_path>
  <format_schema_path>${d('format_schemas')}</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
`;
}

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

export class ClickHouseServer extends LocalDaemon<ClickHouseServerInfo> {
  constructor(dir: string, private readonly root: string) {
    super(dir, 'server', 20_000);
  }

  async start(r: Reporter, opts: { httpPort?: number; timeoutMs?: number } = {}): Promise<ClickHouseServerInfo> {
    const running = this.info();
    if (running) return running;
    mkdirSync(this.dir, { recursive: true });
    const saved = this.saved();
    const ports = saved ? { httpPort: saved.httpPort, tcpPort: saved.tcpPort } : { httpPort: opts.httpPort ?? (await preferredPort(8123)), tcpPort: await freePort() };
    writeFileSync(this.file('config.xml'), config(this.dir, ports.httpPort, ports.tcpPort));
    writeFileSync(this.file('users.xml'), USERS);
    if (await portOpen(ports.httpPort)) throw new Error(`port ${ports.httpPort} is already in use`);
    const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((p) => path.join(this.root, p)).join(':');
    const logFile = this.file('server.log');
    r.step(`starting ClickHouse server (Debian 18.16) on http://127.0.0.1:${ports.httpPort}`);
    const pid = spawnDaemon(path.join(this.root, 'usr', 'sbin', 'clickhouse-server'), [`--config-file=${this.file('config.xml')}`], {
      logFile, pidFile: this.pidFile, env: { LD_LIBRARY_PATH: libs }, cwd: this.dir,
    });
    const info: ClickHouseServerInfo = { url: `http://127.0.0.1:${ports.httpPort}`, ...ports, pid, dir: this.dir };
    this.save(info);
    await waitFor('ClickHouse server', async () => {
      try {
        const res = await fetch(`${info.url}/ping`);
        return res.ok;
      } catch {
        return false;
      }
    }, opts.timeoutMs ?? 30_000, () => this.exitedDuringStart(logFile));
    return info;
  }
}
