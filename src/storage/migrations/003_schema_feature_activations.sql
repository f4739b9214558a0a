-- The SAE features behind each concept score (the evidence), as a time series per feature.
CREATE TABLE IF NOT EXISTS feature_activations
(
    tenant           LowCardinality(String),
    feature          UInt32,
    ts               DateTime64(3, 'UTC'),
    event_id         String,
    concept          LowCardinality(String),
    activation       Float32,
    mean_activation  Float32,
    top_token        String,
    top_token_index  UInt32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, feature, ts, event_id, concept);
