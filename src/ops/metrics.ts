/** Prometheus metrics (prom-client), one registry per process. */
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly received = new Counter({ name: 'probewatch_events_received_total', help: 'Events received, by channel', labelNames: ['channel'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'probewatch_events_rejected_total', help: 'Events rejected, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly scored = new Counter({ name: 'probewatch_events_scored_total', help: 'Events scored and stored', registers: [this.registry] });
  readonly failed = new Counter({ name: 'probewatch_events_failed_total', help: 'Events that failed in the pipeline (dead-lettered)', registers: [this.registry] });
  readonly alerts = new Counter({ name: 'probewatch_alerts_total', help: 'Alerts raised', labelNames: ['rule', 'severity'], registers: [this.registry] });
  readonly ruleErrors = new Counter({ name: 'probewatch_rule_errors_total', help: 'Rule evaluation errors', labelNames: ['rule'], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'probewatch_queue_depth', help: 'Events waiting for the probe', registers: [this.registry] });
  readonly inflight = new Gauge({ name: 'probewatch_events_in_flight', help: 'Events being scored or stored', registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'probewatch_probe_batch_windows', help: 'Windows per inference batch', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [this.registry] });
  readonly probeSeconds = new Histogram({ name: 'probewatch_probe_seconds', help: 'Probe time per event (tokenize, infer, score)', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry] });
  readonly e2eSeconds = new Histogram({ name: 'probewatch_ingest_to_stored_seconds', help: 'From ingest to durably stored', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: [this.registry] });
  readonly e2eQuantiles = new Summary({ name: 'probewatch_ingest_to_stored_quantiles_seconds', help: 'From ingest to durably stored (sliding 10-minute window)', percentiles: [0.5, 0.9, 0.99], maxAgeSeconds: 600, ageBuckets: 5, registers: [this.registry] });
  readonly writerPending = new Gauge({ name: 'probewatch_writer_pending_rows', help: 'Rows buffered for ClickHouse', registers: [this.registry] });
  readonly writerInserts = new Gauge({ name: 'probewatch_writer_inserts', help: 'Successful ClickHouse inserts since start', registers: [this.registry] });
  readonly writerInsertSeconds = new Gauge({ name: 'probewatch_writer_insert_seconds', help: 'Seconds spent in successful ClickHouse inserts since start', registers: [this.registry] });
  readonly writerFailures = new Gauge({ name: 'probewatch_writer_failures', help: 'Failed ClickHouse inserts since start', registers: [this.registry] });
  readonly rulesLoaded = new Gauge({ name: 'probewatch_rules_loaded', help: 'Rules in the active rule set', registers: [this.registry] });
  readonly kafkaLag = new Gauge({ name: 'probewatch_kafka_consumer_lag', help: 'Messages behind the partition end after the last committed chunk', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly kafkaPaused = new Gauge({ name: 'probewatch_kafka_paused', help: '1 while Kafka consumption is paused because storage is failing', registers: [this.registry] });
  readonly kafkaCommitted = new Counter({ name: 'probewatch_kafka_committed_messages_total', help: 'Kafka messages processed and committed (stored or dead-lettered)', registers: [this.registry] });
  readonly kafkaCommitSeconds = new Histogram({ name: 'probewatch_kafka_commit_seconds', help: 'Kafka transaction per chunk (alerts, dead letters, offsets)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [this.registry] });
  readonly kafkaChunkSeconds = new Histogram({ name: 'probewatch_kafka_chunk_seconds', help: 'From a chunk taken from Kafka to its events durably stored (before the commit)', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: [this.registry] });
  readonly kafkaDeadLetters = new Counter({ name: 'probewatch_kafka_dead_letters_total', help: 'Messages sent to the dead-letter topic, by error', labelNames: ['error'], registers: [this.registry] });
  readonly ruleLastEvaluation = new Gauge({ name: 'probewatch_rule_last_evaluation_timestamp_seconds', help: 'When each rule was last evaluated (event rules: the last event)', labelNames: ['rule', 'kind'], registers: [this.registry] });
  readonly ruleDuration = new Gauge({ name: 'probewatch_rule_last_evaluation_duration_seconds', help: 'Duration of each rule\'s last evaluation (event rules: the whole event evaluation)', labelNames: ['rule', 'kind'], registers: [this.registry] });
  readonly ruleHealthy = new Gauge({ name: 'probewatch_rule_healthy', help: '1 when the rule\'s last evaluation succeeded', labelNames: ['rule', 'kind'], registers: [this.registry] });
  readonly ruleEvalSeconds = new Histogram({ name: 'probewatch_rule_evaluation_seconds', help: 'Scheduled rule evaluations (windowed, sequence)', labelNames: ['kind'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry] });
  readonly ruleSetInfo = new Gauge({ name: 'probewatch_rule_set_info', help: 'The active rule set (hash label); 1 while active', labelNames: ['hash'], registers: [this.registry] });
  readonly rulesReloadOk = new Gauge({ name: 'probewatch_rules_last_reload_success', help: '1 when the last rule reload was accepted, 0 when it was rejected', registers: [this.registry] });
  readonly acceptLogSyncSeconds = new Histogram({ name: 'probewatch_accept_log_sync_seconds', help: 'Accept log: from append to durable on disk (group commit), per request', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [this.registry] });
  readonly replayed = new Counter({ name: 'probewatch_events_replayed_total', help: 'Accepted events found unscored in the accept log at start and scored again', registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'probewatch_dead_letters_total', help: 'Items recorded in dead_letters, by channel and field', labelNames: ['channel', 'field'], registers: [this.registry] });
  readonly notifications = new Counter({ name: 'probewatch_notifications_total', help: 'Notification attempts, by receiver, integration kind and outcome (sent, retrying, dead)', labelNames: ['receiver', 'integration', 'outcome'], registers: [this.registry] });
  readonly notificationSeconds = new Histogram({ name: 'probewatch_notification_seconds', help: 'Duration of one delivery attempt, by outcome', labelNames: ['outcome'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry] });
  readonly alertSeries = new Gauge({ name: 'probewatch_alert_series_open', help: 'Alert series this instance tracks for delivery (firing or awaiting their resolved notification)', registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'probewatch_auth_failures_total', help: 'Requests refused for a missing or invalid credential', labelNames: ['reason'], registers: [this.registry] });
  readonly rulesReloadFailures = new Counter({ name: 'probewatch_rules_reload_failures_total', help: 'Rule reloads rejected (last good set kept)', registers: [this.registry] });
  readonly retentionDroppedPartitions = new Counter({ name: 'probewatch_retention_dropped_partitions_total', help: 'Partitions dropped by retention (each recorded in the audit trail as retention.drop), by table', labelNames: ['table'], registers: [this.registry] });
  readonly prefixHitTokens = new Counter({ name: 'probewatch_prefix_cache_hit_tokens_total', help: 'Tokens whose key/value state and residual came from the prefix cache (not computed)', registers: [this.registry] });
  readonly prefixMissTokens = new Counter({ name: 'probewatch_prefix_cache_miss_tokens_total', help: 'Tokens computed by inference runs that looked the prefix cache up', registers: [this.registry] });
  readonly prefixBytes = new Gauge({ name: 'probewatch_prefix_cache_bytes', help: 'Key/value state and residuals held by the prefix cache, all inference workers', registers: [this.registry] });
  private prefixSeen = { hitTokens: 0, missTokens: 0 };

  /** The probe engine keeps the prefix cache's running totals; a scrape brings the counters up to them. */
  syncPrefixCache(s: { hitTokens: number; missTokens: number; bytes: number }): void {
    this.prefixHitTokens.inc(Math.max(0, s.hitTokens - this.prefixSeen.hitTokens));
    this.prefixMissTokens.inc(Math.max(0, s.missTokens - this.prefixSeen.missTokens));
    this.prefixSeen = { hitTokens: s.hitTokens, missTokens: s.missTokens };
    this.prefixBytes.set(s.bytes);
  }

  readonly guardRequests = new Counter({ name: 'probewatch_guard_requests_total', help: 'POST /v1/guard answers, by verdict (allow, flag, block; invalid: 400, busy: 429)', labelNames: ['verdict'], registers: [this.registry] });
  readonly guardSeconds = new Histogram({ name: 'probewatch_guard_seconds', help: 'POST /v1/guard: from the request to the verdict answered (scored in the priority lane, made durable)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [this.registry] });
}
