-- Events as received, under the configured content policy (full / redacted / hash).
-- ReplacingMergeTree keyed by (tenant, event_id): storing an event twice leaves one row in FINAL.
-- Partitioned by month of the event time: retention drops whole parts, time filters prune.
CREATE TABLE IF NOT EXISTS events
(
    tenant          LowCardinality(String),
    event_id        String,
    ts              DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    source          LowCardinality(String),
    model           LowCardinality(String),
    content_policy  LowCardinality(String),
    messages        String,
    content_sha256  String,
    metadata        String,
    pack_id         LowCardinality(String),
    pack_version    LowCardinality(String),
    tokens          UInt32,
    truncated       UInt8,
    result          String,
    version         UInt64,
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, event_id);
