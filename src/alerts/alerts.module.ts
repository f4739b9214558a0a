import { Module } from '@nestjs/common';

import { StorageModule } from '../storage/storage.module';
import { AlertsController } from './alerts.controller';
import { AlertsService } from './alerts.service';

@Module({ imports: [StorageModule], providers: [AlertsService], controllers: [AlertsController], exports: [AlertsService] })
export class AlertsModule {}
