/**
 * From raised and resolved alerts to notifications, in Alertmanager's way:
 * - every alert series (fingerprint) is routed by its labels (`rule`, `severity`, `tenant` and
 *   the rule's own) into aggregation groups, one per route × receiver × group_by values;
 * - a new group waits `group_wait`, then is looked at every `group_interval`; it notifies when a
 *   firing alert was not in its last notification, when an alert it notified has resolved, or
 *   when `repeat_interval` has passed with alerts still firing;
 * - silenced, inhibited and acknowledged alerts are left out of the firing set, so an alert whose
 *   silence ends (or whose acknowledgement is withdrawn) while it still fires is notified again;
 * - an event alert is a series that fires while its rule keeps matching and resolves
 *   `resolve_timeout` after its last event (Alertmanager's rule for alerts without an end);
 *   windowed alerts resolve when their rule says so.
 *
 * Each notification is written to the notification log, one row per integration, before anything
 * is sent: the delivery worker sends from the log, so a restart resumes what was pending. The
 * instance that raised an alert is the one that notifies it (Kafka's consumer group gives each
 * instance its own events), and on restart it rebuilds its series and groups from storage and
 * compares them with what its log says it last sent, so nothing is sent twice in the normal case.
 */
import { createHash } from 'node:crypto';

import type { Alert } from '../../domain/alert';
import type { AckRecord, AlertDeliveryRepository, AlertState, NotificationRecord, StateChange } from '../../storage/alert-delivery.repository';
import type { AlertingConfig, RouteNode } from '../alerting/alerting-config';
import { inhibitedBy, mutedByTime, routeAlert } from '../alerting/routing';
import { integrationsOf, sendsResolved } from './integrations';
import { buildNotification, Evidence, NotifiedAlert } from './notification';
import { Silence, silences as silenceMutes } from './silences';

export interface DispatcherDeps {
  repo: AlertDeliveryRepository;
  config: () => AlertingConfig;
  evidence: (alert: Alert) => Promise<Evidence | null>;
  latestAlerts: (fingerprints: string[]) => Promise<Alert[]>;
  silences: () => readonly Silence[];
  instance: string;
  externalURL: string;
  now?: () => number;
  log?: (level: 'log' | 'warn' | 'error', msg: string) => void;
  /** Called when notifications were written to the log (the worker sends them). */
  onQueued?: () => void;
}

interface Series {
  fingerprint: string;
  tenant: string;
  latest: Alert;
  /** Alert ids of the series (newest last, at most MAX_IDS): each carries the series' state. */
  alertIds: string[];
  labels: Record<string, string>;
  firstAt: number;
  lastSeen: number;
  resolvedAt: number | null;
  windowed: boolean;
  state: AlertState;
  detail: string;
}

interface Group {
  id: string;
  receiver: string;
  routeKey: string;
  route: RouteNode;
  groupLabels: Record<string, string>;
  fps: Set<string>;
  nextFlush: number;
  lastFiring: Set<string>;
  lastAt: number;
}

const MAX_IDS = 200;
/** How far back a restart looks for open series and for what each group last said. */
const RESUME_WINDOW_MS = 7 * 86_400_000;

/** The labels an alert is routed, silenced and inhibited by. */
export function routingLabels(a: Alert): Record<string, string> {
  return { ...a.labels, rule: a.rule, severity: a.severity, tenant: a.tenant };
}

export class AlertDispatcher {
  private readonly series = new Map<string, Series>();
  private readonly groups = new Map<string, Group>();
  private acks = new Map<string, AckRecord>();
  private readonly now: () => number;
  private readonly log: NonNullable<DispatcherDeps['log']>;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? (() => undefined);
  }

  /** Serialises every change of state: events, ticks and refreshes never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.busy.then(fn);
    this.busy = p.then(() => undefined, () => undefined);
    return p;
  }

  /** Rebuilds this instance's open series and groups from storage (after a restart). */
  resume(): Promise<void> {
    return this.serial(async () => {
      const since = new Date(this.now() - RESUME_WINDOW_MS).toISOString();
      await this.loadAcks();
      const last = await this.deps.repo.lastPerGroup(this.deps.instance, since);
      const fps = await this.deps.repo.openSeries(this.deps.instance, since);
      const alerts = await this.deps.latestAlerts(fps);
      for (const a of alerts) this.track(a, Date.parse(a.ts ?? a.starts_at), false);
      for (const n of last) {
        const g = this.groups.get(`${n.receiver}\u0000${n.group_key}`);
        if (g) {
          g.lastFiring = new Set(n.firing);
          g.lastAt = Date.parse(n.created_at);
          g.nextFlush = this.now();
        }
      }
      if (alerts.length) this.log('log', `resumed ${alerts.length} open alert series in ${this.groups.size} groups`);
    });
  }

  raised(alerts: Alert[]): Promise<void> {
    return this.serial(async () => {
      const changes: StateChange[] = [];
      for (const a of alerts) changes.push(...this.track(a, this.now(), true));
      changes.push(...this.evaluateStates());
      await this.deps.repo.recordStates(changes);
    });
  }

  resolved(alerts: Alert[]): Promise<void> {
    return this.serial(async () => {
      for (const a of alerts) {
        const s = this.series.get(a.fingerprint);
        if (s && s.resolvedAt === null) s.resolvedAt = a.ends_at ? Date.parse(a.ends_at) : this.now();
      }
      await this.deps.repo.recordStates(this.evaluateStates());
    });
  }

  /** Re-reads acknowledgements (silences come from `deps.silences`), then re-evaluates states. */
  refresh(): Promise<void> {
    return this.serial(async () => {
      await this.loadAcks();
      await this.deps.repo.recordStates(this.evaluateStates());
    });
  }

  /** Expires event alerts, re-evaluates states and flushes the groups that are due. */
  tick(): Promise<void> {
    return this.serial(async () => {
      const now = this.now();
      const cfg = this.deps.config();
      for (const s of this.series.values()) {
        if (!s.windowed && s.resolvedAt === null && now - s.lastSeen >= cfg.resolveTimeoutMs) s.resolvedAt = s.lastSeen + cfg.resolveTimeoutMs;
      }
      const changes = this.evaluateStates();
      const records: NotificationRecord[] = [];
      for (const g of [...this.groups.values()]) if (g.nextFlush <= now) records.push(...(await this.flush(g, cfg, now)));
      // A resolved series leaves once no group still has it to announce (one pass over the groups, not one per series).
      const grouped = new Set<string>();
      for (const g of this.groups.values()) for (const fp of g.fps) grouped.add(fp);
      for (const [fp, s] of this.series) if (s.resolvedAt !== null && !grouped.has(fp)) this.series.delete(fp);
      await this.deps.repo.recordStates(changes);
      if (records.length) {
        await this.deps.repo.saveNotifications(records);
        this.deps.onQueued?.();
      }
    });
  }

  /**
   * A one-off announcement (e.g. "a scheduled report is ready") through the receivers its labels
   * route to: written to the notification log like any notification, so it is retried and
   * survives a restart; no series, no grouping, nothing to resolve.
   */
  announce(labels: Record<string, string>, annotations: Record<string, string>, key: string): Promise<number> {
    return this.serial(async () => {
      const cfg = this.deps.config();
      const at = new Date(this.now()).toISOString();
      const records: NotificationRecord[] = [];
      for (const m of routeAlert(cfg.route, labels)) {
        const receiver = cfg.receivers.get(m.receiver);
        for (const i of receiver ? integrationsOf(receiver) : []) {
          const nid = `${createHash('sha256').update(`${this.deps.instance}\u0000announce\u0000${key}\u0000${m.receiver}`).digest('hex').slice(0, 24)}-${i.key}`;
          const alert: NotifiedAlert = {
            status: 'firing', labels, annotations, startsAt: at, endsAt: '0001-01-01T00:00:00Z', generatorURL: this.deps.externalURL, fingerprint: key, alert_id: key, event_id: '',
            value: 0, evidence: null, links: { alert: annotations.link ?? this.deps.externalURL, event: annotations.link ?? this.deps.externalURL },
          };
          const payload = buildNotification({ id: nid, instance: this.deps.instance, receiver: m.receiver, groupKey: m.groupKey, groupLabels: m.groupLabels, externalURL: this.deps.externalURL, alerts: [alert] });
          records.push({
            notification_id: nid, instance: this.deps.instance, receiver: m.receiver, integration: i.key, group_key: m.groupKey, status: 'firing', alert_ids: [key], firing: [], resolved: [],
            tenants: [labels.tenant ?? ''], payload: JSON.stringify(payload), outcome: 'pending', attempts: 0, last_error: '', created_at: at, next_attempt_at: at, updated_at: at,
          });
        }
      }
      if (records.length) {
        await this.deps.repo.saveNotifications(records);
        this.deps.onQueued?.();
      }
      return records.length;
    });
  }

  /** Open series and groups, for /v1 and tests. */
  snapshot(): { series: number; groups: Array<{ receiver: string; groupKey: string; alerts: number; nextFlush: string }> } {
    return {
      series: this.series.size,
      groups: [...this.groups.values()].map((g) => ({ receiver: g.receiver, groupKey: g.routeKey, alerts: g.fps.size, nextFlush: new Date(g.nextFlush).toISOString() })),
    };
  }

  private async loadAcks(): Promise<void> {
    this.acks = new Map((await this.deps.repo.acks()).map((a) => [`${a.tenant}\u0000${a.fingerprint}`, a]));
  }

  /** Adds (or refreshes) a series and puts it in its groups; returns the state rows of a new alert id. */
  private track(a: Alert, at: number, fresh: boolean): StateChange[] {
    const cfg = this.deps.config();
    let s = this.series.get(a.fingerprint);
    const out: StateChange[] = [];
    if (!s || (s.resolvedAt !== null && fresh)) {
      const labels = routingLabels(a);
      s = {
        fingerprint: a.fingerprint, tenant: a.tenant, latest: a, alertIds: [a.alert_id], labels, firstAt: at, lastSeen: at,
        resolvedAt: a.kind === 'windowed' && a.ends_at ? Date.parse(a.ends_at) : null, windowed: a.kind === 'windowed',
        // A resumed series keeps the state it had; a new one starts unevaluated.
        state: fresh ? ('new' as AlertState) : 'firing', detail: '',
      };
      this.series.set(a.fingerprint, s);
    } else {
      if (!s.alertIds.includes(a.alert_id)) {
        s.alertIds = [...s.alertIds, a.alert_id].slice(-MAX_IDS);
        if (fresh && s.state !== ('new' as AlertState)) out.push(this.change(s, a.alert_id, s.state, s.detail));
      }
      if (Date.parse(a.ts ?? a.starts_at) >= Date.parse(s.latest.ts ?? s.latest.starts_at)) s.latest = a;
      s.lastSeen = Math.max(s.lastSeen, at);
    }
    for (const m of routeAlert(cfg.route, s.labels)) {
      const id = `${m.receiver}\u0000${m.groupKey}`;
      let g = this.groups.get(id);
      if (!g) {
        g = { id, receiver: m.receiver, routeKey: m.groupKey, route: m.route, groupLabels: m.groupLabels, fps: new Set(), nextFlush: at + m.route.groupWaitMs, lastFiring: new Set(), lastAt: 0 };
        if (!fresh) g.nextFlush = this.now();
        this.groups.set(id, g);
      }
      g.fps.add(s.fingerprint);
    }
    return out;
  }

  private change(s: Series, alertId: string, state: AlertState, detail: string, actor = 'probewatch'): StateChange {
    return { tenant: s.tenant, alert_id: alertId, fingerprint: s.fingerprint, state, at: new Date(this.now()).toISOString(), actor, detail, instance: this.deps.instance };
  }

  /** Computes every series' state; returns the history rows of those that changed. */
  private evaluateStates(): StateChange[] {
    const cfg = this.deps.config();
    const now = new Date(this.now());
    const silences = this.deps.silences();
    const firing = [...this.series.values()].filter((s) => s.resolvedAt === null).map((s) => s.labels);
    const out: StateChange[] = [];
    for (const s of this.series.values()) {
      let state: AlertState = 'firing';
      let detail = '';
      let actor = 'probewatch';
      const ack = this.acks.get(`${s.tenant}\u0000${s.fingerprint}`);
      if (s.resolvedAt !== null) {
        state = 'resolved';
        if (ack) {
          // An acknowledgement covers one firing; a later firing is new.
          this.acks.delete(`${s.tenant}\u0000${s.fingerprint}`);
          void this.deps.repo.recordAck({ ...ack, acked: false, actor: 'probewatch', comment: 'resolved', at: now.toISOString() }).catch((e: Error) => this.log('warn', `clearing an acknowledgement failed: ${e.message}`));
        }
      } else {
        const muting = silences.filter((x) => silenceMutes(x, s.labels, now)).map((x) => x.id);
        const inhibit = muting.length ? null : inhibitedBy(cfg.inhibitRules, s.labels, firing);
        if (muting.length) {
          state = 'silenced';
          detail = muting.join(',');
        } else if (inhibit) {
          state = 'inhibited';
          detail = `inhibit rule at ${cfg.file}:${inhibit.line}`;
        } else if (ack) {
          state = 'acknowledged';
          detail = ack.comment;
          actor = ack.actor;
        } else if (s.state === 'acknowledged') {
          detail = 'acknowledgement withdrawn';
        }
      }
      if (state !== s.state || (state === 'silenced' && detail !== s.detail)) {
        // A silenced alert writes again when the set of silences muting it changes.
        for (const id of s.alertIds) out.push(this.change(s, id, state, detail, actor));
        s.state = state;
        s.detail = detail;
      }
    }
    return out;
  }

  private async flush(g: Group, cfg: AlertingConfig, now: number): Promise<NotificationRecord[]> {
    g.nextFlush = now + g.route.groupIntervalMs;
    const members = [...g.fps].map((fp) => this.series.get(fp)).filter((s): s is Series => !!s);
    const firing = new Set(members.filter((s) => s.state === 'firing').map((s) => s.fingerprint));
    const resolved = members.filter((s) => s.resolvedAt !== null);
    const resolvedToSend = resolved.filter((s) => g.lastFiring.has(s.fingerprint));
    const muted = mutedByTime(cfg, g.route, new Date(now));
    const isSubset = [...firing].every((fp) => g.lastFiring.has(fp));
    const due = !isSubset || resolvedToSend.length > 0 || (firing.size > 0 && now - g.lastAt >= g.route.repeatIntervalMs);
    const out: NotificationRecord[] = [];
    if (due && !muted && (firing.size || resolvedToSend.length)) {
      const receiver = cfg.receivers.get(g.receiver);
      const integrations = receiver ? integrationsOf(receiver) : [];
      const alerts = await Promise.all([...members.filter((s) => firing.has(s.fingerprint)), ...resolvedToSend].map((s) => this.notified(s)));
      const at = new Date(now).toISOString();
      const id = createHash('sha256').update(`${this.deps.instance}\u0000${g.id}\u0000${at}\u0000${[...firing].sort().join(',')}`).digest('hex').slice(0, 24);
      const tenants = [...new Set(alerts.map((a) => a.labels.tenant))];
      if (!integrations.length) {
        this.log('log', `group ${g.routeKey} -> ${g.receiver}: ${firing.size} firing, ${resolvedToSend.length} resolved (no integrations: the API and the log only)`);
      }
      for (const i of integrations) {
        if (!firing.size && !sendsResolved(i)) continue;
        const nid = `${id}-${i.key}`;
        const payload = buildNotification({ id: nid, instance: this.deps.instance, receiver: g.receiver, groupKey: g.routeKey, groupLabels: g.groupLabels, externalURL: this.deps.externalURL, alerts });
        out.push({
          notification_id: nid, instance: this.deps.instance, receiver: g.receiver, integration: i.key, group_key: g.routeKey, status: payload.status,
          alert_ids: alerts.map((a) => a.alert_id), firing: [...firing].sort(), resolved: resolvedToSend.map((s) => s.fingerprint).sort(), tenants,
          payload: JSON.stringify(payload), outcome: 'pending', attempts: 0, last_error: '', created_at: at, next_attempt_at: at, updated_at: at,
        });
      }
      g.lastFiring = new Set(firing);
      g.lastAt = now;
    }
    if (!muted) {
      for (const s of resolved) g.fps.delete(s.fingerprint);
      // A muted firing alert is no longer "already notified": when it is unmuted, it notifies again.
      for (const fp of [...g.lastFiring]) if (!firing.has(fp) && !resolved.some((s) => s.fingerprint === fp)) g.lastFiring.delete(fp);
    }
    if (!g.fps.size) this.groups.delete(g.id);
    return out;
  }

  private async notified(s: Series): Promise<NotifiedAlert> {
    const a = s.latest;
    const base = this.deps.externalURL.replace(/\/+$/, '');
    let evidence: Evidence | null = null;
    try {
      evidence = await this.deps.evidence(a);
    } catch (e) {
      this.log('warn', `evidence for alert ${a.alert_id} could not be read: ${(e as Error).message}`);
    }
    return {
      status: s.resolvedAt !== null ? 'resolved' : 'firing',
      labels: s.labels,
      annotations: a.annotations,
      startsAt: new Date(s.firstAt).toISOString(),
      endsAt: s.resolvedAt !== null ? new Date(s.resolvedAt).toISOString() : '0001-01-01T00:00:00Z',
      generatorURL: `${base}/v1/alerts?rule=${encodeURIComponent(a.rule)}`,
      fingerprint: s.fingerprint,
      alert_id: a.alert_id,
      event_id: a.event_id,
      value: a.value,
      evidence,
      links: { alert: `${base}/v1/alerts?event_id=${encodeURIComponent(a.event_id)}`, event: `${base}/v1/events/${encodeURIComponent(a.event_id)}` },
    };
  }
}
