-- hallwatch ClickHouse views, version 4: what the dashboard counts, kept small. At a
-- million cases most are closed, yet the lights read every case through FINAL, and the
-- post counters every event for the day's; these three tables hold only what a light or
-- a day's counter needs.

-- The cases open now (accepted or suspended), as the cases view has them. A closed case's
-- row is written with closed = 1: FINAL hides it at once, and merges drop it (CLEANUP
-- merges, on their own once parts are a minute old; the sink also asks for one now and
-- then). A replay after a crash writes a case's later versions again, so a dropped case
-- never comes back.
CREATE TABLE IF NOT EXISTS {database}.open_cases (
    case_no String, hall_id LowCardinality(String), window_id String, staff_id String,
    matter_code String, matter_name String, kind LowCardinality(String),
    status LowCardinality(String), accepted_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    due_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    yellow_at Nullable(DateTime64(3, 'Asia/Shanghai')),
    closed_at Nullable(DateTime64(3, 'Asia/Shanghai')), provisional Bool,
    suspended_since Nullable(DateTime64(3, 'Asia/Shanghai')), version UInt32, closed UInt8
) ENGINE = ReplacingMergeTree(version, closed) ORDER BY (hall_id, case_no)
SETTINGS allow_experimental_replacing_merge_with_cleanup = 1,
    min_age_to_force_merge_seconds = 60, min_age_to_force_merge_on_partition_only = 1,
    enable_replacing_merge_with_cleanup_for_min_age_to_force_merge = 1;

-- Each case on the day (China time) it was accepted, and on the day it was decided
-- (completed or delivered), with its latest window: a day's counters read one day.
CREATE TABLE IF NOT EXISTS {database}.case_days (
    day Date, kind LowCardinality(String), hall_id LowCardinality(String), case_no String,
    window_id String, version UInt32
) ENGINE = ReplacingMergeTree(version) ORDER BY (day, kind, hall_id, case_no);

-- Each event done by a member of staff, keyed by its day (China time): the post
-- counters (who is on post, away, uncovered, serving after hours) read one day.
CREATE TABLE IF NOT EXISTS {database}.day_events (
    day Date, hall_id LowCardinality(String), window_id String, staff_id String,
    time DateTime64(3, 'Asia/Shanghai'), id String, type LowCardinality(String),
    substitute_staff_id String, span_start Nullable(DateTime64(3, 'Asia/Shanghai')),
    span_end Nullable(DateTime64(3, 'Asia/Shanghai'))
) ENGINE = ReplacingMergeTree ORDER BY (day, hall_id, window_id, staff_id, id);

-- Views written before these tables existed: copied once (while each is still empty).
INSERT INTO {database}.open_cases
SELECT case_no, hall_id, window_id, staff_id, matter_code, matter_name, kind, status,
       accepted_at, due_at, yellow_at, closed_at, provisional, suspended_since, version, 0
FROM {database}.cases FINAL
WHERE status IN ('accepted', 'suspended') AND (SELECT count() FROM {database}.open_cases) = 0;

INSERT INTO {database}.case_days
SELECT day, kind, hall_id, case_no, window_id, version FROM (
    SELECT toDate(accepted_at, 'Asia/Shanghai') AS day, 'accepted' AS kind, hall_id,
           case_no, window_id, version
    FROM {database}.cases FINAL WHERE accepted_at IS NOT NULL
    UNION ALL
    SELECT toDate(closed_at, 'Asia/Shanghai') AS day, 'decided' AS kind, hall_id, case_no,
           window_id, version
    FROM {database}.cases FINAL
    WHERE status IN ('completed', 'delivered') AND closed_at IS NOT NULL)
WHERE (SELECT count() FROM {database}.case_days) = 0;

INSERT INTO {database}.day_events
SELECT toDate(time, 'Asia/Shanghai'), hall_id, window_id, staff_id, time, id, type,
       JSONExtractString(cloudevent, 'data', 'substitute_staff_id'),
       parseDateTime64BestEffortOrNull(JSONExtractString(cloudevent, 'data', 'start'), 3,
                                       'Asia/Shanghai'),
       parseDateTime64BestEffortOrNull(JSONExtractString(cloudevent, 'data', 'end'), 3,
                                       'Asia/Shanghai')
FROM {database}.events FINAL
WHERE staff_id != '' AND (SELECT count() FROM {database}.day_events) = 0;
