import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import helmet from 'helmet';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Public } from '../platform/access.decorators';

export const CONSOLE_ASSETS = path.join(__dirname, '..', '..', 'src', 'console', 'assets');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/**
 * The web console: a single page of static files (no data in them) that signs in with an API key
 * or through the OpenID Provider, then calls the same /v1 API as everyone else, so each role sees
 * exactly what the API grants it. Only the files present in the assets directory at start are
 * served. With OIDC sign-in configured, the page may also talk to the provider (discovery and
 * token endpoints): its Content-Security-Policy adds the provider's origin to connect-src.
 */
@Controller()
export class ConsoleController {
  private readonly files: Set<string>;
  private readonly csp: string | null;

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig) {
    this.files = new Set(readdirSync(CONSOLE_ASSETS).filter((f) => Object.hasOwn(TYPES, path.extname(f))));
    const oidc = cfg.auth.oidc;
    if (oidc?.console) {
      const directives: Record<string, string[]> = { ...helmet.contentSecurityPolicy.getDefaultDirectives() as Record<string, string[]>, 'connect-src': ["'self'", new URL(oidc.issuer).origin] };
      this.csp = Object.entries(directives).map(([k, v]) => [k, ...v].join(' ')).join(';');
    } else this.csp = null;
  }

  @Public()
  @Get('console')
  index(@Res() res: Response): void {
    if (this.csp) res.setHeader('content-security-policy', this.csp);
    this.send(res, 'index.html');
  }

  @Public()
  @Get('console/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (!this.files.has(file)) throw new NotFoundException({ error: 'not_found', message: 'no such console file' });
    this.send(res, file);
  }

  /** What the sign-in page needs before any credential: the OIDC client it signs in as, if any. */
  @Public()
  @Get('v1/console/config')
  config(): unknown {
    const oidc = this.cfg.auth.oidc;
    return { oidc: oidc?.console ? { issuer: oidc.issuer, client_id: oidc.console.clientId, scope: oidc.console.scope, resource: oidc.audience } : null };
  }

  private send(res: Response, file: string): void {
    res.setHeader('content-type', TYPES[path.extname(file)]);
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(path.join(CONSOLE_ASSETS, file));
  }
}
