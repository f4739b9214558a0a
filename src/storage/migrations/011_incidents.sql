-- Alerts marked as serious incidents (EU AI Act Art. 73): the category sets the reporting
-- deadline from the moment the provider became aware. The newest row (version) wins; withdrawn = 1
-- undoes a marking. Kept apart from the alerts so a marking never rewrites the alert itself.
CREATE TABLE IF NOT EXISTS alert_incidents
(
    tenant       LowCardinality(String),
    alert_id     String,
    fingerprint  String,
    rule         String,
    category     LowCardinality(String),
    summary      String,
    aware_at     DateTime64(3, 'UTC'),
    deadline     DateTime64(3, 'UTC'),
    reported_at  Nullable(DateTime64(3, 'UTC')),
    marked_by    String,
    updated_at   DateTime64(3, 'UTC'),
    withdrawn    UInt8,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, alert_id);
