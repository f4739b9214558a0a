import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';

import { AlertsModule } from '../alerts/alerts.module';
import { IngestModule } from '../ingest/ingest.module';
import { KafkaModule } from '../kafka/kafka.module';
import { ProbeModule } from '../probe/probe.module';
import { RulesModule } from '../rules/rules.module';
import { StorageModule } from '../storage/storage.module';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { AccessGuard } from './auth/access.guard';
import { ErasureController } from './privacy/erasure.controller';
import { ReportsController } from './reports/reports.controller';
import { ReportsService } from './reports/reports.service';
import { RetentionService } from './retention/retention.service';
import { AccessService } from './auth/access.service';
import { KeysController } from './auth/keys.controller';
import { SessionController } from './auth/session.controller';
import { OpsController } from './ops.controller';

@Module({
  imports: [IngestModule, KafkaModule, ProbeModule, RulesModule, StorageModule, AlertsModule],
  controllers: [OpsController, KeysController, SessionController, AuditController, ErasureController, ReportsController],
  providers: [AccessService, AuditService, ReportsService, RetentionService, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [AccessService, AuditService, ReportsService, RetentionService],
})
export class OpsModule {}
