-- Alert delivery (alerting.yaml): state history, acknowledgements, silences and the notification log.

-- Every state an alert series passes through (firing, acknowledged, silenced, inhibited, resolved,
-- and unacknowledged), by whom, and on which instance (the instance that raised it delivers it).
CREATE TABLE IF NOT EXISTS alert_history
(
    tenant       LowCardinality(String),
    alert_id     String,
    fingerprint  String,
    state        LowCardinality(String),
    at           DateTime64(3, 'UTC'),
    actor        String,
    detail       String,
    instance     LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, fingerprint, at);

-- Acknowledgements of an alert series (fingerprint); the newest row wins, acked = 0 undoes it.
CREATE TABLE IF NOT EXISTS alert_acks
(
    tenant       LowCardinality(String),
    fingerprint  String,
    alert_id     String,
    acked        UInt8,
    actor        String,
    comment      String,
    at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (tenant, fingerprint);

-- Silences in Alertmanager v2's shape; expiring one writes a newer version with ends_at = now.
CREATE TABLE IF NOT EXISTS silences
(
    id           String,
    matchers     String,
    starts_at    DateTime64(3, 'UTC'),
    ends_at      DateTime64(3, 'UTC'),
    created_by   String,
    comment      String,
    recurring    String,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- The notification log: what was sent to whom, when, with what outcome, after how many attempts.
-- Pending rows are the durable queue the delivery worker retries from (after a restart too).
CREATE TABLE IF NOT EXISTS notifications
(
    notification_id  String,
    instance         LowCardinality(String),
    receiver         LowCardinality(String),
    integration      LowCardinality(String),
    group_key        String,
    status           LowCardinality(String),
    alert_ids        Array(String),
    firing           Array(String),
    resolved         Array(String),
    tenants          Array(String),
    payload          String,
    outcome          LowCardinality(String),
    attempts         UInt32,
    last_error       String,
    created_at       DateTime64(3, 'UTC'),
    next_attempt_at  DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY notification_id;
