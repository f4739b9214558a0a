import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';

import { Requires } from '../platform/access.decorators';
import { RuleHistoryRepository } from '../storage/rule-history.repository';
import { formatDuration } from './duration';
import type { Rule } from './rule-types';
import { RuleSetService } from './rule-set.service';

function describeRule(r: Rule): Record<string, unknown> {
  const common = { rule: r.name, kind: r.kind, severity: r.severity, tags: r.tags, enabled: r.enabled, labels: r.labels, file: `${r.file}:${r.line}` };
  if (r.kind === 'event') return { ...common, condition: r.conditionText };
  if (r.kind === 'windowed') {
    return { ...common, aggregate: r.aggregateText, condition: r.conditionText, window: formatDuration(r.windowMs), every: formatDuration(r.everyMs), group_by: r.groupBy, for: formatDuration(r.forMs), keep_firing_for: formatDuration(r.keepFiringForMs) };
  }
  return { ...common, steps: r.conditionText, by: r.by, within: formatDuration(r.withinMs), every: formatDuration(r.everyMs) };
}

@Controller('v1/rules')
export class RulesController {
  constructor(private readonly rules: RuleSetService, private readonly history: RuleHistoryRepository) {}

  /**
   * The active set (hash, files, where it came from: `source` files or storage, with `storedSet`),
   * the last reload of the files with its problems, and each rule with its health.
   */
  @Requires('rules:read')
  @Get()
  list(): unknown {
    return {
      ...this.rules.state,
      items: this.rules.rules.map((r) => ({ ...describeRule(r), health: this.rules.health.get(r.name) ?? null })),
    };
  }

  @Requires('rules:reload')
  @Post('reload')
  @HttpCode(200)
  async reload(): Promise<unknown> {
    return this.rules.reload('api');
  }

  /** The audit trail of rule sets: hashes, file hashes, what changed and rejected reloads. */
  @Requires('rules:read')
  @Get('history')
  async listHistory(@Query('limit') limit?: string): Promise<unknown> {
    const n = Math.min(1000, Math.max(1, Number(limit ?? 100) || 100));
    return { items: await this.history.list(n) };
  }
}
