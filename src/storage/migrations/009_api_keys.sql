-- API keys: only the SHA-256 of the secret part is stored; revoking writes a newer version.
CREATE TABLE IF NOT EXISTS api_keys
(
    id           String,
    name         String,
    role         LowCardinality(String),
    tenants      Array(String),
    all_tenants  UInt8,
    content      UInt8,
    secret_sha256 String,
    created_at   DateTime64(3, 'UTC'),
    created_by   String,
    revoked_at   Nullable(DateTime64(3, 'UTC')),
    revoked_by   String,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
