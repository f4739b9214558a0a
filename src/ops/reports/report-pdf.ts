/**
 * The PDF form of a report: headless Chromium (an installed browser, driven by playwright-core;
 * nothing is downloaded) printing the report's HTML. The page is self-contained (inline CSS and
 * SVG), so it is loaded with JavaScript off and every request refused.
 */
import { existsSync } from 'node:fs';

import { chromium } from 'playwright-core';

/** What to do when no browser is found; the CLI prints it (exit 2), the API records it on the report. */
export class ChromiumMissingError extends Error {
  readonly code = 'PREREQUISITE_MISSING';
  constructor(configured: string | null) {
    super(`${configured ? `no browser at ${configured} (PROBEWATCH_CHROMIUM)` : 'no Chromium found (looked for /usr/bin/chromium and /usr/bin/chromium-browser)'}: `
      + 'PDF reports need a headless Chromium; install Debian\'s chromium (apt-get install chromium) or set PROBEWATCH_CHROMIUM to a Chromium or Chrome executable');
  }
}

/** The browser to print with, or the error that names what to install. */
export function requireChromium(executable: string | null): string {
  if (!executable || !existsSync(executable)) throw new ChromiumMissingError(executable);
  return executable;
}

/** Chromium's sandbox cannot start as root; elsewhere it stays on. */
function launchArgs(): string[] {
  return process.getuid?.() === 0 ? ['--no-sandbox'] : [];
}

export async function printPdf(html: string, executable: string | null): Promise<Buffer> {
  const browser = await chromium.launch({ executablePath: requireChromium(executable), headless: true, args: launchArgs() });
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    await context.route('**/*', (route) => route.abort());
    const page = await context.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    return await page.pdf({ format: 'A4', printBackground: true, margin: { top: '15mm', bottom: '15mm', left: '15mm', right: '15mm' } });
  } finally {
    await browser.close();
  }
}
