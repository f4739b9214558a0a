import { FSWatcher, watch } from 'node:fs';
import { hostname } from 'node:os';

import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { Metrics } from '../ops/metrics';
import { AuditEvents } from '../platform/audit-events';
import { Topic } from '../platform/topic';
import { CONCEPT_IDS } from '../domain/concepts';
import { ProbeEngine } from '../probe/probe-engine';
import { RuleHistoryRepository, RuleHistoryStore, RuleSetChange, StoredRuleSet } from '../storage/rule-history.repository';
import { RuleHealthRegistry } from './rule-health';
import { fileHashes, readRuleSources, recordedSources, RuleSource, ruleSetHash, sourcesRecord } from './rule-loader';
import { formatProblem } from './rule-file';
import { compileRuleSet } from './rule-set';
import { Rule, RuleScope } from './rule-types';

export interface RuleSetStatus {
  hash: string;
  loadedAt: string;
  files: string[];
  rules: number;
  /** Where the active set came from: the rules directory, or the audit trail (a start whose files were rejected). */
  source: 'files' | 'storage';
  /** With source 'storage': the recorded set that is active. */
  storedSet: { hash: string; recordedAt: string; instance: string } | null;
  /** The last load of the rules directory; its problems are those of the files on disk. */
  lastReload: { ok: boolean; at: string; problems: string[] };
}

/** The rules check of /readyz. */
export interface RulesReadiness {
  /** False while the files on disk are rejected (or no rules are active). */
  ok: boolean;
  rules: number;
  set: string;
  source: 'files' | 'storage';
  problems: string[];
}

/** What the service reads of the probe engine: the pack's features, to check feature[...] indices. */
export interface PackFeatures {
  readonly pack: { readonly manifest: { readonly features: ReadonlyArray<{ readonly index: number }> } };
}

export interface ReloadResult {
  ok: boolean;
  problems: string[];
  rules: number;
  hash: string;
  changed: boolean;
}

type Trigger = 'start' | 'watch' | 'api';

/** A rule's definition without positions, to tell a changed rule from a moved one. */
function signature(r: Rule): string {
  return JSON.stringify(r, (k, v: unknown) => (k === 'pos' || k === 'file' || k === 'line' || k === 're' ? undefined : v));
}

/**
 * The active rule set. Loads at start, reloads on file changes and on POST /v1/rules/reload. A
 * reload with any problem keeps the last good set and says why in the log, the metrics, the API
 * and /readyz. Every new set (and every rejected one) is recorded with its hash and what changed,
 * for the audit trail; an accepted set also with its sources, so that a start whose files are
 * rejected comes up on the last good set recorded in storage. Only a start with rejected files
 * and no good set ever recorded fails.
 */
@Injectable()
export class RuleSetService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('rules');
  private active: Rule[] = [];
  private signatures = new Map<string, string>();
  private status: RuleSetStatus = { hash: '', loadedAt: '', files: [], rules: 0, source: 'files', storedSet: null, lastReload: { ok: false, at: '', problems: ['not loaded'] } };
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<ReloadResult> | null = null;
  readonly health = new RuleHealthRegistry();
  /** Called after a new set becomes active (the scheduler drops state of removed rules). */
  /** Published with the new active set whenever it changes (the scheduler forgets removed rules). */
  readonly changed = new Topic<readonly Rule[]>((e) => this.log.error(`a rule-set subscriber failed: ${e.message}`));

  constructor(
    @Inject(APP_CONFIG) private readonly cfg: Pick<AppConfig, 'rulesDir' | 'rulesWatch'>,
    @Inject(ProbeEngine) private readonly engine: PackFeatures,
    private readonly metrics: Metrics,
    @Inject(RuleHistoryRepository) private readonly history: RuleHistoryStore,
    @Optional() private readonly audit?: AuditEvents,
  ) {}

  async onModuleInit(): Promise<void> {
    const r = await this.reload('start');
    // Rejected files with a set from storage standing in: up, degraded (see `readiness`).
    if (!r.ok && !this.status.hash) throw new Error(`rules in ${this.cfg.rulesDir} are invalid:\n  ${r.problems.join('\n  ')}`);
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

  /** A good set is active (from the files, or the last good one), so events are evaluated. */
  get serving(): boolean {
    return this.active.length > 0;
  }

  /** Not ok while the files on disk are rejected, even though a good set keeps serving. */
  get readiness(): RulesReadiness {
    const s = this.status;
    return { ok: this.serving && s.lastReload.ok, rules: this.active.length, set: s.hash.slice(0, 12), source: s.source, problems: s.lastReload.problems };
  }

  private scope(): RuleScope {
    return { concepts: [...CONCEPT_IDS], features: new Set(this.engine.pack.manifest.features.map((f) => f.index)) };
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
  async reload(trigger: Trigger = 'api'): Promise<ReloadResult> {
    while (this.reloading) await this.reloading.catch(() => undefined);
    this.reloading = this.doReload(trigger);
    try {
      return await this.reloading;
    } finally {
      this.reloading = null;
    }
  }

  private async doReload(trigger: Trigger): Promise<ReloadResult> {
    const at = new Date().toISOString();
    let sources;
    try {
      sources = await readRuleSources([this.cfg.rulesDir]);
    } catch (e) {
      return this.fail(trigger, at, '', [`${this.cfg.rulesDir}: ${(e as Error).message}`], {});
    }
    const hash = ruleSetHash(sources);
    if (hash === this.status.hash && this.status.lastReload.ok) return { ok: true, problems: [], rules: this.active.length, hash, changed: false };
    const compiled = compileRuleSet(sources, this.scope());
    if (!sources.length) compiled.problems.push({ file: this.cfg.rulesDir, line: 1, col: 1, message: 'no rule files (*.yaml)' });
    if (compiled.problems.length) return this.fail(trigger, at, hash, compiled.problems.map(formatProblem), fileHashes(sources));
    const next = new Map(compiled.rules.map((r) => [r.name, signature(r)]));
    const change: RuleSetChange = {
      at, instance: hostname(), ok: true, hash, previousHash: this.status.hash, rules: compiled.rules.length, files: fileHashes(sources),
      added: [...next.keys()].filter((n) => !this.signatures.has(n)),
      removed: [...this.signatures.keys()].filter((n) => !next.has(n)),
      changed: [...next.keys()].filter((n) => this.signatures.has(n) && this.signatures.get(n) !== next.get(n)),
      problems: [],
      sources: sourcesRecord(sources),
    };
    this.activate(compiled.rules, next, { hash, loadedAt: at, files: sources.map((s) => s.file), rules: compiled.rules.length, source: 'files', storedSet: null, lastReload: { ok: true, at, problems: [] } });
    const what = [change.added.length && `added ${change.added.join(', ')}`, change.removed.length && `removed ${change.removed.join(', ')}`, change.changed.length && `changed ${change.changed.join(', ')}`].filter(Boolean).join('; ');
    this.log.log(`loaded ${compiled.rules.length} rules from ${sources.length} files (set ${hash.slice(0, 12)}, ${trigger})${what ? `: ${what}` : ''}`);
    await this.record(change);
    return { ok: true, problems: [], rules: compiled.rules.length, hash, changed: true };
  }

  private activate(rules: Rule[], signatures: Map<string, string>, status: RuleSetStatus): void {
    this.active = rules;
    this.signatures = signatures;
    if (this.status.hash) this.metrics.ruleSetInfo.remove({ hash: this.status.hash.slice(0, 12) });
    this.status = status;
    this.health.sync(rules.map((r) => ({ name: r.name, kind: r.kind })));
    this.metrics.rulesLoaded.set(rules.length);
    this.metrics.rulesReloadOk.set(status.lastReload.ok ? 1 : 0);
    this.metrics.ruleSetInfo.set({ hash: status.hash.slice(0, 12) }, 1);
    this.changed.publish(this.active);
  }

  /**
   * A rejected load keeps the active set. At start there is none yet, so the last good set
   * recorded in storage stands in, and the rejected start is recorded against it (like a
   * rejected reload against the set it kept).
   */
  private async fail(trigger: Trigger, at: string, hash: string, problems: string[], files: Record<string, string>): Promise<ReloadResult> {
    const restored = trigger === 'start' && !this.status.hash ? await this.restoreStored(at) : null;
    this.status = { ...this.status, lastReload: { ok: false, at, problems } };
    this.metrics.rulesReloadFailures.inc();
    this.metrics.rulesReloadOk.set(0);
    const list = problems.join('\n  ');
    if (restored) {
      this.log.error(`rules in ${this.cfg.rulesDir} rejected at start; running on the last good set ${restored.hash.slice(0, 12)} recorded at ${restored.at} by ${restored.instance} (${this.active.length} rules) until the files are fixed:\n  ${list}`);
    } else if (!this.status.hash) {
      this.log.error(`rules in ${this.cfg.rulesDir} rejected at start, and no good rule set is recorded in storage to fall back on:\n  ${list}`);
    } else {
      this.log.error(`rule reload rejected, keeping the last good set (${this.active.length} rules):\n  ${list}`);
    }
    await this.record({ at, instance: hostname(), ok: false, hash, previousHash: this.status.hash, rules: this.active.length, files, added: [], removed: [], changed: [], problems });
    return { ok: false, problems, rules: this.active.length, hash: this.status.hash, changed: false };
  }

  /**
   * The newest good set recorded in storage, compiled and made active; null when there is none.
   * One that cannot be read, does not hash to what was recorded or no longer compiles (another
   * engine version, another pack) counts as none: it is logged, not used.
   */
  private async restoreStored(at: string): Promise<StoredRuleSet | null> {
    let stored: StoredRuleSet | null;
    try {
      stored = await this.history.latestGoodSet();
    } catch (e) {
      this.log.warn(`cannot read the last good rule set from storage: ${(e as Error).message}`);
      return null;
    }
    if (!stored) return null;
    const sources: RuleSource[] = recordedSources(this.cfg.rulesDir, stored.sources);
    const hash = ruleSetHash(sources);
    const compiled = compileRuleSet(sources, this.scope());
    const problems = hash !== stored.hash ? [`its sources hash to ${hash.slice(0, 12)}`] : sources.length ? compiled.problems.map(formatProblem) : ['it has no files'];
    if (problems.length) {
      this.log.warn(`the last good rule set recorded in storage (${stored.hash.slice(0, 12)} at ${stored.at}) cannot be used:\n  ${problems.join('\n  ')}`);
      return null;
    }
    this.activate(compiled.rules, new Map(compiled.rules.map((r) => [r.name, signature(r)])), {
      hash, loadedAt: at, files: sources.map((s) => s.file), rules: compiled.rules.length, source: 'storage',
      storedSet: { hash, recordedAt: stored.at, instance: stored.instance }, lastReload: { ok: false, at, problems: [] },
    });
    return stored;
  }

  private async record(change: RuleSetChange): Promise<void> {
    this.audit?.record(`rules (${change.instance})`, change.ok ? 'rules.change' : 'rules.change.rejected', change.hash, '', {
      previous: change.previousHash, rules: change.rules, added: change.added, removed: change.removed, changed: change.changed, problems: change.problems, files: change.files,
    });
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
