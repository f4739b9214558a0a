import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';

import { ApiTokenGuard } from '../ops/api-token.guard';
import { RuleSetService } from './rule-set.service';

@Controller('v1/rules')
@UseGuards(ApiTokenGuard)
export class RulesController {
  constructor(private readonly rules: RuleSetService) {}

  @Get()
  list(): unknown {
    return {
      ...this.rules.state,
      items: this.rules.rules.map((r) => ({ rule: r.name, severity: r.severity, tags: r.tags, enabled: r.enabled, condition: r.conditionText, file: `${r.file}:${r.line}` })),
    };
  }

  @Post('reload')
  @HttpCode(200)
  async reload(): Promise<unknown> {
    return this.rules.reload();
  }
}
