import { DynamicModule, Module } from '@nestjs/common';

import { AlertsModule } from './alerts/alerts.module';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { ConsoleModule } from './console/console.module';
import { GuardModule } from './guard/guard.module';
import { IngestModule } from './ingest/ingest.module';
import { KafkaModule } from './kafka/kafka.module';
import { LifecycleService } from './lifecycle.service';
import { MetricsModule } from './ops/metrics.module';
import { OpsModule } from './ops/ops.module';
import { PlatformModule } from './platform/platform.module';
import { ProbeModule } from './probe/probe.module';
import { RulesModule } from './rules/rules.module';
import { StorageModule } from './storage/storage.module';

/** The data path, in flow order: ingest (Kafka, HTTP; the inline guard beside it) -> probe -> rules -> alerts -> storage; then operations and the console. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), MetricsModule, PlatformModule, KafkaModule, IngestModule, GuardModule, ProbeModule, RulesModule, AlertsModule, StorageModule, OpsModule, ConsoleModule],
      providers: [LifecycleService],
    };
  }
}
