import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';

import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { Caller, can, Permission } from '../../domain/access';
import { CALLER, PERMISSION_KEY, PUBLIC_KEY } from '../../platform/access.decorators';
import { AccessService } from './access.service';

const AUTH_OFF: Caller = { id: 'auth-off', kind: 'auth-off', name: 'PROBEWATCH_AUTH=off', role: 'admin', tenants: null, content: true };

/**
 * Every route: public, or a permission the caller's role grants. The caller comes from
 * `Authorization: Bearer <key>` (an API key, or an OIDC access token when configured); no other
 * form is accepted. A route that declares neither is refused (fail closed).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, private readonly reflector: Reflector, private readonly access: AccessService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    const req = ctx.switchToHttp().getRequest<Request & Record<symbol, Caller>>();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION_KEY, targets);
    if (permission === 'metrics:read' && this.cfg.auth.metricsOpen) return true;
    if (!permission) throw new ForbiddenException({ error: 'forbidden', message: 'this route declares no permission' });
    if (!this.cfg.auth.enabled) {
      req[CALLER] = AUTH_OFF;
      return true;
    }
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(req.headers.authorization ?? '');
    const auth = m ? await this.access.authenticate(m[1]) : { caller: null, reason: 'no bearer credential' };
    const caller = auth.caller;
    if (!caller) {
      this.access.failed(req, auth.reason);
      throw new UnauthorizedException({ error: 'unauthorized', message: 'a valid API key or token is required (Authorization: Bearer <key>)' });
    }
    if (!can(caller, permission)) throw new ForbiddenException({ error: 'forbidden', message: `the ${caller.role} role does not grant ${permission}` });
    req[CALLER] = caller;
    return true;
  }
}
