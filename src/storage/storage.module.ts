import { Inject, Logger, Module } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';

import { APP_CONFIG } from '../config/config.module';
import { AppConfig, policyFor } from '../config/app-config';
import { AlertDeliveryRepository } from './alert-delivery.repository';
import { IncidentsRepository } from './incidents.repository';
import { ApiKeysRepository } from './api-keys.repository';
import { AlertsRepository } from './alerts.repository';
import { BatchWriter } from './batch-writer';
import { openClickHouse } from './clickhouse-client';
import { DeadLetterRepository } from './dead-letter.repository';
import { EventsRepository } from './events.repository';
import { Pseudonyms } from './redaction/pseudonyms';
import { migrate, removeRetentionTtl } from './migrator';
import { ReplayRepository } from './replay.repository';
import { RuleHistoryRepository } from './rule-history.repository';

export const CLICKHOUSE = Symbol('CLICKHOUSE');

const log = new Logger('storage');

async function connect(cfg: AppConfig): Promise<ClickHouseClient> {
  const client = await openClickHouse(cfg.store);
  const applied = await migrate(client);
  if (applied.length) log.log(`applied migrations ${applied.join(', ')}`);
  // Retention drops partitions (ops/retention, after the audit trail opens); a row TTL left by an earlier version goes.
  const untimed = await removeRetentionTtl(client);
  if (untimed.length) log.log(`removed the row TTL of ${untimed.join(', ')}: retention now drops whole partitions, recorded in the audit trail`);
  log.log(`${cfg.store.kind === 'embedded' ? 'embedded ClickHouse (chDB)' : 'ClickHouse server'} at ${cfg.store.location}, database ${cfg.store.database}`);
  return client;
}

function openPseudonyms(cfg: AppConfig): Pseudonyms {
  const { pseudonyms, created } = Pseudonyms.readOrCreate(cfg.pseudonymKeyFile);
  if (created) log.warn(`created the pseudonym key ${cfg.pseudonymKeyFile} (mode 0600); keep it with the data and back it up: without it, stored pseudonyms cannot be matched to user ids`);
  return pseudonyms;
}

@Module({
  providers: [
    { provide: CLICKHOUSE, inject: [APP_CONFIG], useFactory: connect },
    {
      provide: BatchWriter,
      inject: [CLICKHOUSE, APP_CONFIG],
      useFactory: (c: ClickHouseClient, cfg: AppConfig) => new BatchWriter(c, cfg.writer, (m) => log.warn(m)),
    },
    { provide: Pseudonyms, inject: [APP_CONFIG], useFactory: openPseudonyms },
    {
      provide: EventsRepository,
      inject: [CLICKHOUSE, BatchWriter, APP_CONFIG, Pseudonyms],
      useFactory: (c: ClickHouseClient, w: BatchWriter, cfg: AppConfig, p: Pseudonyms) => new EventsRepository(c, w, (t) => policyFor(cfg, t), p.digest),
    },
    { provide: AlertsRepository, inject: [CLICKHOUSE, BatchWriter], useFactory: (c: ClickHouseClient, w: BatchWriter) => new AlertsRepository(c, w) },
    { provide: ApiKeysRepository, inject: [CLICKHOUSE], useFactory: (c: ClickHouseClient) => new ApiKeysRepository(c) },
    { provide: AlertDeliveryRepository, inject: [CLICKHOUSE], useFactory: (c: ClickHouseClient) => new AlertDeliveryRepository(c) },
    { provide: IncidentsRepository, inject: [CLICKHOUSE], useFactory: (c: ClickHouseClient) => new IncidentsRepository(c) },
    { provide: RuleHistoryRepository, inject: [CLICKHOUSE], useFactory: (c: ClickHouseClient) => new RuleHistoryRepository(c) },
    { provide: ReplayRepository, inject: [CLICKHOUSE], useFactory: (c: ClickHouseClient) => new ReplayRepository(c) },
    { provide: DeadLetterRepository, inject: [BatchWriter, APP_CONFIG], useFactory: (w: BatchWriter, cfg: AppConfig) => new DeadLetterRepository(w, (t) => policyFor(cfg, t)) },
  ],
  exports: [CLICKHOUSE, BatchWriter, Pseudonyms, EventsRepository, AlertsRepository, AlertDeliveryRepository, IncidentsRepository, ApiKeysRepository, DeadLetterRepository, RuleHistoryRepository, ReplayRepository],
})
export class StorageModule {
  constructor(@Inject(CLICKHOUSE) readonly client: ClickHouseClient) {}
}
