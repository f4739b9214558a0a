import { Module } from '@nestjs/common';

import { IngestModule } from '../ingest/ingest.module';
import { KafkaModule } from '../kafka/kafka.module';
import { ProbeModule } from '../probe/probe.module';
import { RulesModule } from '../rules/rules.module';
import { StorageModule } from '../storage/storage.module';
import { OpsController } from './ops.controller';

@Module({ imports: [IngestModule, KafkaModule, ProbeModule, RulesModule, StorageModule], controllers: [OpsController] })
export class OpsModule {}
