import { Module } from '@nestjs/common';

import { AlertsModule } from '../alerts/alerts.module';
import { ProbeModule } from '../probe/probe.module';
import { RulesModule } from '../rules/rules.module';
import { StorageModule } from '../storage/storage.module';
import { EventsController } from './events.controller';
import { PipelineService } from './pipeline.service';

@Module({ imports: [ProbeModule, RulesModule, AlertsModule, StorageModule], providers: [PipelineService], controllers: [EventsController], exports: [PipelineService] })
export class IngestModule {}
