/**
 * Poppler's command-line tools (`pdfinfo`, `pdftoppm`, `pdftotext`, Debian's poppler-utils) for
 * the PDF report tests, following browser.ts: installed with apt-get when missing and the tests
 * run as root; otherwise the caller skips with the reason, and under CI=true it is an error.
 */
import { spawnSync } from 'node:child_process';

function present(): boolean {
  return ['pdfinfo', 'pdftoppm', 'pdftotext'].every((tool) => spawnSync(tool, ['-v']).error === undefined);
}

/** true when the tools are there, or why they are not. */
export function ensurePoppler(): true | { skip: string } {
  if (!present() && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    process.stderr.write('installing Debian\'s poppler-utils for the PDF report tests (apt-get install poppler-utils)\n');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'poppler-utils'], { stdio: ['ignore', 'inherit', 'inherit'], env }).status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'inherit', 'inherit'] });
      spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'poppler-utils'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    }
  }
  if (present()) return true;
  const reason = 'no pdftoppm/pdfinfo/pdftotext found (install Debian\'s poppler-utils: sudo apt-get install poppler-utils)';
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return { skip: reason };
}
