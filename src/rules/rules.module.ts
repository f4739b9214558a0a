import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';

import { ProbeModule } from '../probe/probe.module';
import { StorageModule } from '../storage/storage.module';
import { RuleSchedulerService } from './rule-scheduler.service';
import { RuleSetService } from './rule-set.service';
import { RulesController } from './rules.controller';

@Module({
  imports: [ProbeModule, StorageModule, ScheduleModule.forRoot()],
  providers: [RuleSetService, RuleSchedulerService],
  controllers: [RulesController],
  exports: [RuleSetService, RuleSchedulerService],
})
export class RulesModule {}
