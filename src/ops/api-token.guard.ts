import { timingSafeEqual } from 'node:crypto';

import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';

/** With PROBEWATCH_API_TOKEN set, /v1 needs `Authorization: Bearer <token>` (prompts are sensitive). */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly token: Buffer | null;

  constructor(@Inject(APP_CONFIG) cfg: AppConfig) {
    this.token = cfg.apiToken ? Buffer.from(cfg.apiToken) : null;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.token) return true;
    // Only `Authorization: Bearer <token>` (RFC 6750); a bare token or another scheme is refused.
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(ctx.switchToHttp().getRequest<Request>().headers.authorization ?? '');
    const given = Buffer.from(m ? m[1] : '');
    if (m && given.length === this.token.length && timingSafeEqual(given, this.token)) return true;
    throw new UnauthorizedException({ error: 'unauthorized', message: 'a valid bearer token is required' });
  }
}
