import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { CONCEPT_IDS } from '../probe/pack-manifest';
import { ProbeEngine } from '../probe/probe-engine';
import { formatProblem, parseRuleFile, Rule } from './rule-file';

export interface RuleSetStatus {
  hash: string;
  loadedAt: string;
  files: string[];
  rules: number;
  lastReload: { ok: boolean; at: string; problems: string[] };
}

/** The active rule set. A reload that finds any problem keeps the last good set and says why. */
@Injectable()
export class RuleSetService implements OnModuleInit {
  private readonly log = new Logger('rules');
  private active: Rule[] = [];
  private status: RuleSetStatus = { hash: '', loadedAt: '', files: [], rules: 0, lastReload: { ok: false, at: '', problems: ['not loaded'] } };

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, private readonly engine: ProbeEngine, private readonly metrics: Metrics) {}

  async onModuleInit(): Promise<void> {
    const r = await this.reload();
    if (!r.ok) throw new Error(`rules in ${this.cfg.rulesDir} are invalid:\n  ${r.problems.join('\n  ')}`);
  }

  get rules(): readonly Rule[] {
    return this.active;
  }

  get state(): RuleSetStatus {
    return this.status;
  }

  async reload(): Promise<{ ok: boolean; problems: string[]; rules: number }> {
    const at = new Date().toISOString();
    const scope = { concepts: [...CONCEPT_IDS], features: new Set(this.engine.pack.manifest.features.map((f) => f.index)) };
    let files: string[];
    try {
      files = (await fs.readdir(this.cfg.rulesDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
    } catch (e) {
      return this.fail(at, [`${this.cfg.rulesDir}: ${(e as Error).message}`]);
    }
    const problems: string[] = [];
    const rules: Rule[] = [];
    const hash = createHash('sha256');
    for (const f of files) {
      const text = await fs.readFile(path.join(this.cfg.rulesDir, f), 'utf8');
      hash.update(f).update('\0').update(text);
      const parsed = parseRuleFile(path.join(path.basename(this.cfg.rulesDir), f), text, scope);
      problems.push(...parsed.problems.map(formatProblem));
      rules.push(...parsed.rules);
    }
    const names = new Map<string, string>();
    for (const r of rules) {
      const prev = names.get(r.name);
      if (prev) problems.push(`${r.file}:${r.line}:1: rule '${r.name}' is already defined in ${prev}`);
      names.set(r.name, `${r.file}:${r.line}`);
    }
    if (problems.length) return this.fail(at, problems);
    this.active = rules;
    this.status = { hash: hash.digest('hex'), loadedAt: at, files, rules: rules.length, lastReload: { ok: true, at, problems: [] } };
    this.metrics.rulesLoaded.set(rules.length);
    this.log.log(`loaded ${rules.length} rules from ${files.length} files (set ${this.status.hash.slice(0, 12)})`);
    return { ok: true, problems: [], rules: rules.length };
  }

  private fail(at: string, problems: string[]): { ok: boolean; problems: string[]; rules: number } {
    this.status = { ...this.status, lastReload: { ok: false, at, problems } };
    this.metrics.rulesReloadFailures.inc();
    this.log.error(`rule reload rejected, keeping the last good set (${this.active.length} rules):\n  ${problems.join('\n  ')}`);
    return { ok: false, problems, rules: this.active.length };
  }
}
