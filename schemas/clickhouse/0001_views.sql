-- hallwatch ClickHouse views, version 1. Applied in file order at every start: every
-- statement is idempotent. {database} is hallwatch's Atomic database.

-- Every hall event as published (the CloudEvent text, with hwcase/hwstate), one row per
-- stored event: writing an event twice leaves one row.
CREATE TABLE IF NOT EXISTS {database}.events (
    id String, hall_id LowCardinality(String), type LowCardinality(String),
    subject String, time DateTime64(3, 'Asia/Shanghai'),
    recorded_at DateTime64(3, 'Asia/Shanghai'), position UInt64, sequence UInt32,
    window_id String, staff_id String, office_hours LowCardinality(String), chain String,
    cloudevent String
) ENGINE = ReplacingMergeTree ORDER BY (subject, position);

-- Each case as it stands after its latest event (the higher version wins).
CREATE TABLE IF NOT EXISTS {database}.cases (
    case_no String, hall_id LowCardinality(String), matter_code String,
    matter_name String, kind LowCardinality(String), status LowCardinality(String),
    accepted_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    due_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    yellow_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    closed_at Nullable(DateTime64(3, 'Asia/Shanghai')), provisional Bool,
    window_id String, staff_id String, promised_days Nullable(UInt16), summary String,
    version UInt32, position UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY case_no;

-- Each supervision alert as it stands after its latest change.
CREATE TABLE IF NOT EXISTS {database}.alerts (
    alert_id String, rule LowCardinality(String), severity LowCardinality(String),
    status LowCardinality(String), hall_id LowCardinality(String), case_no String,
    window_id String, staff_id String, raised_at DateTime64(3, 'Asia/Shanghai'),
    updated_at DateTime64(3, 'Asia/Shanghai'),
    notice_due_at Nullable(DateTime64(3, 'Asia/Shanghai')), body String, version UInt32
) ENGINE = ReplacingMergeTree(version) ORDER BY alert_id;

-- How far each consumer has written (log position or offset), saved after its writes.
CREATE TABLE IF NOT EXISTS {database}.offsets (
    consumer String, position UInt64
) ENGINE = ReplacingMergeTree(position) ORDER BY consumer;

-- Which schema files were applied.
CREATE TABLE IF NOT EXISTS {database}.schema_versions (
    version String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version;
