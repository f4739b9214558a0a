import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { existsSync, FSWatcher, readFileSync, watch } from 'node:fs';
import * as path from 'node:path';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { AuditEvents } from '../platform/audit-events';
import { formatProblem } from '../rules/rule-file';
import { BUILT_IN_POLICY, GuardPolicy, readGuardPolicy } from './guard-policy';

export interface GuardPolicyStatus {
  file: string;
  source: 'file' | 'built-in';
  hash: string;
  loadedAt: string;
  concepts: GuardPolicy['concepts'];
  lastReload: { ok: boolean; at: string; trigger: 'start' | 'watch' | 'api'; problems: string[] };
}

/**
 * The active guard policy: read at start (a broken file stops the start, as the alerting file
 * does: there is no earlier policy to fall back on), then reloaded when the file changes. A
 * rejected reload keeps the last good policy and says why, at file:line:col, in the status.
 */
@Injectable()
export class GuardPolicyService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('guard');
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private active: GuardPolicy;
  status: GuardPolicyStatus;

  constructor(@Inject(APP_CONFIG) private readonly cfg: AppConfig, private readonly audit: AuditEvents) {
    const file = cfg.guard.file;
    const at = new Date().toISOString();
    if (!existsSync(file)) {
      this.log.log(`no guard policy at ${file}: flag at the pack's thresholds, never block (see guard.yaml in the repository)`);
      this.active = BUILT_IN_POLICY;
      this.status = { file, source: 'built-in', hash: BUILT_IN_POLICY.hash, loadedAt: at, concepts: BUILT_IN_POLICY.concepts, lastReload: { ok: true, at, trigger: 'start', problems: [] } };
      return;
    }
    const { policy, problems } = readGuardPolicy(file, readFileSync(file, 'utf8'));
    if (!policy) throw new Error(`the guard policy ${file} is invalid:\n  ${problems.map(formatProblem).join('\n  ')}`);
    this.active = policy;
    this.status = { file, source: 'file', hash: policy.hash, loadedAt: at, concepts: policy.concepts, lastReload: { ok: true, at, trigger: 'start', problems: [] } };
  }

  get policy(): GuardPolicy {
    return this.active;
  }

  onApplicationBootstrap(): void {
    const file = this.cfg.guard.file;
    try {
      // The directory, not the file: editors replace a file by renaming a new one over it, and a
      // policy created after the start is picked up too.
      this.watcher = watch(path.dirname(file), (_e, name) => {
        if (name && name.toString() !== path.basename(file)) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.reload('watch'), 300);
      });
      this.watcher.on('error', (e) => this.log.warn(`watching ${file} stopped: ${e.message}`));
    } catch (e) {
      this.log.warn(`cannot watch ${file}: ${(e as Error).message}; the guard policy is reloaded at the next start`);
    }
  }

  /** Reads the file again (on a change, or asked through POST /v1/guard/reload by `actor`). */
  reload(trigger: 'watch' | 'api', actor = 'guard policy watch'): GuardPolicyStatus {
    const file = this.cfg.guard.file;
    const at = new Date().toISOString();
    let problems: string[];
    let policy: GuardPolicy | null = null;
    try {
      const read = readGuardPolicy(file, readFileSync(file, 'utf8'));
      policy = read.policy;
      problems = read.problems.map(formatProblem);
    } catch (e) {
      problems = [`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`];
    }
    if (!policy) {
      this.status = { ...this.status, lastReload: { ok: false, at, trigger, problems } };
      this.log.error(`guard policy rejected (${trigger}); keeping the last good policy ${this.active.hash}:\n  ${problems.join('\n  ')}`);
    } else {
      this.active = policy;
      this.status = { file, source: 'file', hash: policy.hash, loadedAt: at, concepts: policy.concepts, lastReload: { ok: true, at, trigger, problems } };
      this.log.log(`guard policy reloaded (${trigger}): ${policy.hash}`);
    }
    this.audit.record(actor, policy ? 'guard.policy.reload' : 'guard.policy.reload.rejected', file, '', { hash: this.active.hash, problems, trigger });
    return this.status;
  }

  onModuleDestroy(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce) clearTimeout(this.debounce);
  }
}
