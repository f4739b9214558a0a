import { Module } from '@nestjs/common';

import { ProbeModule } from '../probe/probe.module';
import { RulesController } from './rules.controller';
import { RuleSetService } from './rule-set.service';

@Module({ imports: [ProbeModule], providers: [RuleSetService], controllers: [RulesController], exports: [RuleSetService] })
export class RulesModule {}
