import { Module } from '@nestjs/common';

import { RulesModule } from '../rules/rules.module';
import { StorageModule } from '../storage/storage.module';
import { AlertsController, NotificationsController, SilencesController } from './alerts.controller';
import { AlertsService } from './alerts.service';
import { IncidentsController } from './incidents.controller';

@Module({ imports: [StorageModule, RulesModule], providers: [AlertsService], controllers: [AlertsController, SilencesController, NotificationsController, IncidentsController], exports: [AlertsService] })
export class AlertsModule {}
