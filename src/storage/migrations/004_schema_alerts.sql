-- Alerts: alert_id = hash(fingerprint, event_id), so a redelivered event adds no alert.
CREATE TABLE IF NOT EXISTS alerts
(
    tenant       LowCardinality(String),
    alert_id     String,
    fingerprint  String,
    rule         LowCardinality(String),
    severity     LowCardinality(String),
    event_id     String,
    ts           DateTime64(3, 'UTC'),
    value        Float64,
    labels       String,
    annotations  String,
    created_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, alert_id);
