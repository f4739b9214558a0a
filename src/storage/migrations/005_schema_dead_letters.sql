-- Inputs that could not be accepted, with the reason; nothing is dropped silently.
CREATE TABLE IF NOT EXISTS dead_letters
(
    received_at  DateTime64(3, 'UTC'),
    channel      LowCardinality(String),
    event_id     String,
    tenant       String,
    reason       String,
    errors       String,
    payload      String,
    payload_sha256 String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, payload_sha256);
