import { FSWatcher, watch } from 'node:fs';
import { hostname } from 'node:os';

import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { CONCEPT_IDS } from '../probe/pack-manifest';
import { ProbeEngine } from '../probe/probe-engine';
import { RuleHistoryRepository, RuleSetChange } from '../storage/rule-history.repository';
import { RuleHealthRegistry } from './rule-health';
import { fileHashes, readRuleSources, ruleSetHash } from './rule-loader';
import { formatProblem } from './rule-file';
import { compileRuleSet, Rule } from './rule-set';

export interface RuleSetStatus {
  hash: string;
  loadedAt: string;
  files: string[];
  rules: number;
  lastReload: { ok: boolean; at: string; problems: string[] };
}

export interface ReloadResult {
  ok: boolean;
  problems: string[];
  rules: number;
  hash: string;
  changed: boolean;
}

/** A rule's definition without positions, to tell a changed rule from a moved one. */
function signature(r: Rule): string {
  return JSON.stringify(r, (k, v: unknown) => (k === 'pos' || k === 'file' || k === 'line' || k === 're' ? undefined : v));
}

/**
 * The active rule set. Loads at start (refusing to start on a broken set), reloads on file changes
 * and on POST /v1/rules/reload. A reload with any problem keeps the last good set and says why in
 * the log, the metrics and the API. Every new set (and every rejected one) is recorded with its
 * hash and what changed, for the audit trail.
 */
@Injectable()
export class RuleSetService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('rules');
  private active: Rule[] = [];
  private signatures = new Map<string, string>();
  private status: RuleSetStatus = { hash: '', loadedAt: '', files: [], rules: 0, lastReload: { ok: false, at: '', problems: ['not loaded'] } };
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<ReloadResult> | null = null;
  readonly health = new RuleHealthRegistry();
  /** Called after a new set becomes active (the scheduler drops state of removed rules). */
  onChange: ((rules: readonly Rule[]) => void) | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly cfg: AppConfig,
    private readonly engine: ProbeEngine,
    private readonly metrics: Metrics,
    private readonly history: RuleHistoryRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    const r = await this.reload('start');
    if (!r.ok) throw new Error(`rules in ${this.cfg.rulesDir} are invalid:\n  ${r.problems.join('\n  ')}`);
    if (this.cfg.rulesWatch) this.startWatching();
  }

  onModuleDestroy(): void {
    this.watcher?.close();
    if (this.debounce) clearTimeout(this.debounce);
  }

  get rules(): readonly Rule[] {
    return this.active;
  }

  get state(): RuleSetStatus {
    return this.status;
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.cfg.rulesDir, (_event, name) => {
        if (name && !/\.ya?ml$/.test(String(name))) return;
        // Editors write in several steps; reload once things settle.
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload('watch'), 300);
      });
      this.watcher.on('error', (e) => this.log.warn(`watching ${this.cfg.rulesDir} stopped: ${e.message}; use POST /v1/rules/reload`));
    } catch (e) {
      this.log.warn(`cannot watch ${this.cfg.rulesDir}: ${(e as Error).message}; use POST /v1/rules/reload`);
    }
  }

  /** Serialised: a reload requested while one runs waits for it, then runs again. */
  async reload(trigger: 'start' | 'watch' | 'api' = 'api'): Promise<ReloadResult> {
    while (this.reloading) await this.reloading.catch(() => undefined);
    this.reloading = this.doReload(trigger);
    try {
      return await this.reloading;
    } finally {
      this.reloading = null;
    }
  }

  private async doReload(trigger: string): Promise<ReloadResult> {
    const at = new Date().toISOString();
    const scope = { concepts: [...CONCEPT_IDS], features: new Set(this.engine.pack.manifest.features.map((f) => f.index)) };
    let sources;
    try {
      sources = await readRuleSources([this.cfg.rulesDir]);
    } catch (e) {
      return this.fail(at, '', [`${this.cfg.rulesDir}: ${(e as Error).message}`], {});
    }
    const hash = ruleSetHash(sources);
    if (hash === this.status.hash && this.status.lastReload.ok) return { ok: true, problems: [], rules: this.active.length, hash, changed: false };
    const compiled = compileRuleSet(sources, scope);
    if (!sources.length) compiled.problems.push({ file: this.cfg.rulesDir, line: 1, col: 1, message: 'no rule files (*.yaml)' });
    if (compiled.problems.length) return this.fail(at, hash, compiled.problems.map(formatProblem), fileHashes(sources));
    const next = new Map(compiled.rules.map((r) => [r.name, signature(r)]));
    const change: RuleSetChange = {
      at, instance: hostname(), ok: true, hash, previousHash: this.status.hash, rules: compiled.rules.length, files: fileHashes(sources),
      added: [...next.keys()].filter((n) => !this.signatures.has(n)),
      removed: [...this.signatures.keys()].filter((n) => !next.has(n)),
      changed: [...next.keys()].filter((n) => this.signatures.has(n) && this.signatures.get(n) !== next.get(n)),
      problems: [],
    };
    this.active = compiled.rules;
    this.signatures = next;
    if (this.status.hash) this.metrics.ruleSetInfo.remove({ hash: this.status.hash.slice(0, 12) });
    this.status = { hash, loadedAt: at, files: sources.map((s) => s.file), rules: compiled.rules.length, lastReload: { ok: true, at, problems: [] } };
    this.health.sync(compiled.rules.map((r) => ({ name: r.name, kind: r.kind })));
    this.metrics.rulesLoaded.set(compiled.rules.length);
    this.metrics.rulesReloadOk.set(1);
    this.metrics.ruleSetInfo.set({ hash: hash.slice(0, 12) }, 1);
    this.onChange?.(this.active);
    const what = [change.added.length && `added ${change.added.join(', ')}`, change.removed.length && `removed ${change.removed.join(', ')}`, change.changed.length && `changed ${change.changed.join(', ')}`].filter(Boolean).join('; ');
    this.log.log(`loaded ${compiled.rules.length} rules from ${sources.length} files (set ${hash.slice(0, 12)}, ${trigger})${what ? `: ${what}` : ''}`);
    await this.record(change);
    return { ok: true, problems: [], rules: compiled.rules.length, hash, changed: true };
  }

  private async fail(at: string, hash: string, problems: string[], files: Record<string, string>): Promise<ReloadResult> {
    this.status = { ...this.status, lastReload: { ok: false, at, problems } };
    this.metrics.rulesReloadFailures.inc();
    this.metrics.rulesReloadOk.set(0);
    this.log.error(`rule reload rejected, keeping the last good set (${this.active.length} rules):\n  ${problems.join('\n  ')}`);
    await this.record({ at, instance: hostname(), ok: false, hash, previousHash: this.status.hash, rules: this.active.length, files, added: [], removed: [], changed: [], problems });
    return { ok: false, problems, rules: this.active.length, hash: this.status.hash, changed: false };
  }

  private async record(change: RuleSetChange): Promise<void> {
    await this.history.record(change).catch((e: Error) => this.log.warn(`could not record the rule-set change in the audit trail: ${e.message}`));
  }

  /** Per-rule health into the gauges, at scrape time (nothing on the hot path). */
  exportHealth(): void {
    const m = this.metrics;
    m.ruleLastEvaluation.reset();
    m.ruleDuration.reset();
    m.ruleHealthy.reset();
    for (const h of this.health.all()) {
      const labels = { rule: h.rule, kind: h.kind };
      m.ruleHealthy.set(labels, h.lastError !== null && h.lastErrorAt === h.lastEvaluation ? 0 : 1);
      if (h.lastEvaluation === null) continue;
      m.ruleLastEvaluation.set(labels, Date.parse(h.lastEvaluation) / 1000);
      m.ruleDuration.set(labels, (h.lastDurationMs ?? 0) / 1000);
    }
  }

  /** Event rules ran for one event: record when, how long, and any rule's error. */
  eventRulesRan(atMs: number, durationMs: number, errors: ReadonlyArray<{ rule: string; message: string }>): void {
    this.health.eventRulesRan(atMs, durationMs, errors);
  }
}
