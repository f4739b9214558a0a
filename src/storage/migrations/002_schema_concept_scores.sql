-- One row per event and concept: the time series the API filters and the rules aggregate.
-- Ordered for "tenant + concept over a time range, score above x".
CREATE TABLE IF NOT EXISTS concept_scores
(
    tenant        LowCardinality(String),
    concept       LowCardinality(String),
    ts            DateTime64(3, 'UTC'),
    event_id      String,
    score         Float32,
    sae_score     Float32,
    dense_score   Float32,
    threshold     Float32,
    flagged       UInt8,
    detector      LowCardinality(String),
    source        LowCardinality(String),
    model         LowCardinality(String),
    pack_version  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, concept, ts, event_id);
