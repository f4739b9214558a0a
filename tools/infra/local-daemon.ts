/**
 * What the local Kafka broker and ClickHouse server share: a state directory with
 * `<prefix>.pid` (the running process) and `<prefix>.json` (what the last start chose: ports,
 * address), so `info()` answers from the files, a restart reuses the same address, and
 * `stop()`/`destroy()` work from any process.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { freePort, portOpen, readPid, stopPid, tail } from './process-util';

export abstract class LocalDaemon<Info extends { pid: number }> {
  constructor(readonly dir: string, private readonly prefix: string, private readonly graceMs: number) {}

  protected file(name: string): string {
    return path.join(this.dir, name);
  }

  protected get pidFile(): string {
    return this.file(`${this.prefix}.pid`);
  }

  /** What the last start saved, whether or not the process runs now. */
  protected saved(): Omit<Info, 'pid'> | null {
    const f = this.file(`${this.prefix}.json`);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Omit<Info, 'pid'>) : null;
  }

  /** Saves everything but the pid (it may hold a local credential: owner-only). */
  protected save(info: Info): void {
    const { pid: _pid, ...rest } = info;
    writeFileSync(this.file(`${this.prefix}.json`), JSON.stringify(rest), { mode: 0o600 });
  }

  /** For waitFor: why starting cannot succeed any more (the process died), else null. */
  protected exitedDuringStart(logFile: string): string | null {
    return readPid(this.pidFile) ? null : `exited during start:\n${tail(logFile)}`;
  }

  /** The running process of this directory, if any. */
  info(): Info | null {
    const pid = readPid(this.pidFile);
    const saved = pid ? this.saved() : null;
    return pid && saved ? ({ ...saved, pid } as Info) : null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
    const pid = readPid(this.pidFile);
    if (!pid) return false;
    await stopPid(pid, this.graceMs, signal);
    rmSync(this.pidFile, { force: true });
    return true;
  }

  /** Stops the process and deletes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The conventional port when it is free, else any free one. */
export async function preferredPort(port: number): Promise<number> {
  return (await portOpen(port)) ? freePort() : port;
}
