-- hallwatch ClickHouse views, version 3: values the live views read on every request,
-- as columns of their own, so that a dashboard query reads narrow columns instead of
-- parsing JSON (at a million cases, parsing each case's summary and each event's
-- CloudEvent was most of the time of GET /v1/halls). Rows written before a column
-- existed compute it from their JSON (on read, and for good at their next merge).

-- The day a suspended case's clock stopped (the sink writes it).
ALTER TABLE {database}.cases ADD COLUMN IF NOT EXISTS suspended_since
    Nullable(DateTime64(3, 'Asia/Shanghai'))
    DEFAULT parseDateTime64BestEffortOrNull(JSONExtractString(summary, 'suspended_since'),
                                            3, 'Asia/Shanghai');

-- Who covers an absent post, and an after-hours service record's span.
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS substitute_staff_id String
    DEFAULT JSONExtractString(cloudevent, 'data', 'substitute_staff_id');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS span_start
    Nullable(DateTime64(3, 'Asia/Shanghai'))
    DEFAULT parseDateTime64BestEffortOrNull(JSONExtractString(cloudevent, 'data', 'start'),
                                            3, 'Asia/Shanghai');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS span_end
    Nullable(DateTime64(3, 'Asia/Shanghai'))
    DEFAULT parseDateTime64BestEffortOrNull(JSONExtractString(cloudevent, 'data', 'end'),
                                            3, 'Asia/Shanghai');
