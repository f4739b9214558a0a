/**
 * A real browser for the console's tests: Debian's `chromium`, driven by `playwright-core` (no
 * browser download). When it is missing and the tests run as root with apt-get, it is installed
 * (about 35 s, progress on the terminal); otherwise the caller skips with the reason, and under
 * CI=true a missing browser is an error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string | null {
  const env = process.env.PROBEWATCH_CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** The browser's executable, or why there is none. */
export function ensureChromium(): string | { skip: string } {
  let found = chromiumPath();
  if (!found && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    process.stderr.write('installing Debian\'s chromium for the console tests (apt-get install chromium, about 35 s)\n');
    spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'inherit', 'inherit'] });
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    found = chromiumPath();
  }
  if (found) return found;
  const reason = 'no chromium found (install Debian\'s chromium: sudo apt-get install chromium, or set PROBEWATCH_CHROMIUM)';
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return { skip: reason };
}
