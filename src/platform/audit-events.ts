/**
 * "Something an auditor cares about happened": keys, authentication failures, reads of raw
 * content, rule and alerting changes, silences and acknowledgements, starts with their
 * configuration, reports and exports. Stages publish; the audit trail (ops/audit) appends each
 * to its hash chain. Publishing never waits for the trail.
 */
import { Logger } from '@nestjs/common';

import type { AuditRecord } from '../domain/audit-chain';
import { Topic } from './topic';

export class AuditEvents extends Topic<AuditRecord> {
  constructor(log: (m: string) => void = (m) => new Logger('audit-events').error(m)) {
    super((e) => log(`an audit subscriber failed: ${e.message}`));
  }

  record(actor: string, action: string, target: string, tenant = '', detail: Record<string, unknown> = {}): void {
    this.publish({ actor, action, target, tenant, detail: JSON.stringify(detail) });
  }
}
