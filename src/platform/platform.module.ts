import { Global, Module } from '@nestjs/common';

import { AlertEvents } from './alert-events';
import { AuditEvents } from './audit-events';

/** Process-wide plumbing every stage may use: the alert events and the audit events. */
@Global()
@Module({ providers: [{ provide: AlertEvents, useValue: new AlertEvents() }, { provide: AuditEvents, useValue: new AuditEvents() }], exports: [AlertEvents, AuditEvents] })
export class PlatformModule {}
