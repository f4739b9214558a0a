-- The rules engine (issue 5): the end user on every score row (windowed and sequence rules group
-- by it), the alert kind and its end (windowed alerts resolve), and the rule-set audit trail.
ALTER TABLE events ADD COLUMN IF NOT EXISTS user_id String DEFAULT '' AFTER model;
ALTER TABLE concept_scores ADD COLUMN IF NOT EXISTS user_id String DEFAULT '' AFTER model;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'event' AFTER severity;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS ends_at Nullable(DateTime64(3, 'UTC')) AFTER created_at;
-- One row per loaded rule set that differs from the previous one, and one per rejected reload.
CREATE TABLE IF NOT EXISTS rule_set_history
(
    at             DateTime64(3, 'UTC'),
    instance       String,
    ok             UInt8,
    hash           String,
    previous_hash  String,
    rules          UInt32,
    files          String,
    added          Array(String),
    removed        Array(String),
    changed        Array(String),
    problems       Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, hash);
