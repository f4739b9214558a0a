-- The audit trail: append-only, one hash chain per instance, signed checkpoints of each chain's head.
CREATE TABLE IF NOT EXISTS audit_log
(
    chain      LowCardinality(String),
    seq        UInt64,
    at         DateTime64(3, 'UTC'),
    actor      String,
    action     LowCardinality(String),
    target     String,
    tenant     String,
    detail     String,
    prev_hash  String,
    hash       String
)
ENGINE = MergeTree
ORDER BY (chain, seq);

CREATE TABLE IF NOT EXISTS audit_checkpoints
(
    chain      LowCardinality(String),
    seq        UInt64,
    hash       String,
    at         String,
    signature  String,
    key_id     String
)
ENGINE = MergeTree
ORDER BY (chain, seq);
