import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Request } from 'express';

import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import type { Caller } from '../../domain/access';
import { AuditEvents } from '../../platform/audit-events';
import { Metrics } from '../metrics';
import { ApiKeysRepository } from '../../storage/api-keys.repository';
import { ApiKeys } from './api-keys';
import { OidcVerifier } from './oidc';

/**
 * Authentication: API keys, and the secure default. With access control on and no active key,
 * the first start creates an `admin` key, writes it to PROBEWATCH_ADMIN_KEY_FILE (mode 0600) and
 * shows it once on an interactive terminal (never in a log that is not a terminal). With
 * PROBEWATCH_AUTH=off every start warns.
 */
@Injectable()
export class AccessService implements OnApplicationBootstrap {
  private readonly log = new Logger('access');
  readonly keys: ApiKeys;
  readonly oidc: OidcVerifier | null;

  private failures = { minute: 0, count: 0, suppressed: 0 };

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, repo: ApiKeysRepository, private readonly metrics: Metrics, private readonly audit: AuditEvents) {
    this.keys = new ApiKeys(repo);
    this.oidc = cfg.auth.oidc ? new OidcVerifier(cfg.auth.oidc, (m) => this.log.warn(m)) : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.cfg.auth.enabled) {
      this.log.warn('PROBEWATCH_AUTH=off: access control is OFF; anyone who can reach this port reads stored prompts and changes alerting. Never run it so outside a sandbox.');
      return;
    }
    if ((await this.keys.active()) > 0) return;
    const { key, info } = await this.keys.create({ role: 'admin', tenants: null, name: 'bootstrap admin', content: false }, 'probewatch (first start)');
    const file = this.cfg.auth.adminKeyFile;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    this.audit.record('probewatch', 'key.create', info.id, '', { role: 'admin', tenants: null, name: info.name, bootstrap: true, file: file });
    this.log.warn(`no API key existed: created admin key ${info.id}, written to ${file} (mode 0600). Use it as Authorization: Bearer $(cat ${file}); create narrower keys with POST /v1/keys or probewatch keys create.`);
    if (process.stdout.isTTY) process.stdout.write(`\n  probewatch admin key (shown once, also in ${file}):\n  ${key}\n\n`);
  }

  /** An API key, or (when configured) an OIDC access token; null with the reason otherwise. */
  async authenticate(token: string): Promise<{ caller: Caller | null; reason: string }> {
    if (token.startsWith('pwk_') || !this.oidc) {
      const caller = await this.keys.authenticate(token);
      return { caller, reason: caller ? '' : 'invalid or revoked credential' };
    }
    const r = await this.oidc.verify(token);
    return r.ok ? { caller: r.caller, reason: '' } : { caller: null, reason: r.reason };
  }

  /**
   * An authentication failure: counted, logged and put in the audit trail (at most 100 entries a
   * minute, then one entry saying how many more there were); the credential itself never is.
   */
  failed(req: Request, why: string): void {
    this.metrics.authFailures.inc({ reason: why.startsWith('no ') ? 'missing' : 'invalid' });
    this.log.warn(`authentication failed for ${req.method} ${req.path} from ${req.ip ?? '?'}: ${why}`);
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.failures.minute) {
      if (this.failures.suppressed) this.audit.record('probewatch', 'auth.failure.suppressed', '', '', { count: this.failures.suppressed });
      this.failures = { minute, count: 0, suppressed: 0 };
    }
    if (++this.failures.count <= 100) this.audit.record(`ip:${req.ip ?? '?'}`, 'auth.failure', `${req.method} ${req.path}`, '', { reason: why });
    else this.failures.suppressed++;
  }
}
