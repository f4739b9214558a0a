import type { ClickHouseClient } from '@clickhouse/client';

import type { TenantScope } from '../domain/access';
import type { Incident, IncidentCategory } from '../domain/incident';
import { chTime, fromChTime, nextVersion } from './events.repository';

interface Row {
  tenant: string; alert_id: string; fingerprint: string; rule: string; category: string; summary: string;
  aware: string; due: string; reported: string | null; marked_by: string; updated: string;
}

// Aliases differ from the columns: ClickHouse would resolve WHERE and ORDER BY columns to these strings.
const COLUMNS = `tenant, alert_id, fingerprint, rule, category, summary, toString(aware_at) AS aware, toString(deadline) AS due,
  if(isNull(reported_at), NULL, toString(reported_at)) AS reported, marked_by, toString(updated_at) AS updated`;

const toIncident = ({ aware, due, reported, updated, ...r }: Row): Incident => ({
  ...r, category: r.category as IncidentCategory, aware_at: fromChTime(aware), deadline: fromChTime(due),
  reported_at: reported ? fromChTime(reported) : null, updated_at: fromChTime(updated),
});

/** Serious-incident markings of alerts (newest version wins; withdrawn ones are hidden). */
export class IncidentsRepository {
  constructor(private readonly client: ClickHouseClient) {}

  async save(i: Incident, withdrawn = false): Promise<void> {
    await this.client.insert({
      table: 'alert_incidents',
      values: [{ ...i, aware_at: chTime(i.aware_at), deadline: chTime(i.deadline), reported_at: i.reported_at ? chTime(i.reported_at) : null, updated_at: chTime(i.updated_at), withdrawn: withdrawn ? 1 : 0, version: nextVersion() }],
      format: 'JSONEachRow',
    });
  }

  async get(tenant: string, alertId: string): Promise<Incident | null> {
    const res = await this.client.query({
      query: `SELECT ${COLUMNS} FROM alert_incidents FINAL WHERE tenant = {tenant:String} AND alert_id = {id:String} AND withdrawn = 0`,
      query_params: { tenant, id: alertId },
      format: 'JSONEachRow',
    });
    const [r] = await res.json<Row>();
    return r ? toIncident(r) : null;
  }

  /** Incidents within the scope whose awareness falls in [from, to), or that are still unreported at `to`. */
  async list(scope: TenantScope, from?: string, to?: string): Promise<Incident[]> {
    const cond = ['withdrawn = 0'];
    const params: Record<string, unknown> = {};
    if ('tenants' in scope) {
      cond.push('has({tenants:Array(String)}, tenant)');
      params.tenants = scope.tenants;
    }
    if (from && to) {
      cond.push('((aware_at >= parseDateTime64BestEffort({from:String}, 3) AND aware_at < parseDateTime64BestEffort({to:String}, 3)) OR (aware_at < parseDateTime64BestEffort({to:String}, 3) AND (reported_at IS NULL OR reported_at >= parseDateTime64BestEffort({from:String}, 3))))');
      Object.assign(params, { from, to });
    }
    const res = await this.client.query({
      query: `SELECT ${COLUMNS} FROM alert_incidents FINAL WHERE ${cond.join(' AND ')} ORDER BY deadline, tenant, alert_id`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return (await res.json<Row>()).map(toIncident);
  }
}
