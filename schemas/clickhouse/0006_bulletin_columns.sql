-- hallwatch ClickHouse views, version 6: what the bulletins read from an event's JSON, as
-- columns ClickHouse computes when a row is written (MATERIALIZED: the sink writes
-- nothing new). A figure query that touched the CloudEvent text read all of it for every
-- event of the period: over ten million events, 2-4 s a figure, most of a monthly
-- bulletin's 90 s. Rows written before these columns existed compute them from their JSON
-- on read, as before, and keep them from their next merge (`ALTER TABLE hallwatch.events
-- MATERIALIZE COLUMN <name>` writes them at once, a one-off mutation).

-- From the event's data, as the hall sent it.
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_category LowCardinality(String)
    MATERIALIZED JSONExtractString(cloudevent, 'data', 'category');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_uncovered UInt8
    MATERIALIZED JSONExtractString(cloudevent, 'data', 'substitute_staff_id') = '';
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_approved UInt8
    MATERIALIZED JSONExtractString(cloudevent, 'data', 'approved_by') != '';
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_incomplete UInt8
    MATERIALIZED JSONExtractRaw(cloudevent, 'data', 'complete') = 'false';
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_satisfaction Int64
    MATERIALIZED JSONExtractInt(cloudevent, 'data', 'satisfaction');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_complaint_no String
    MATERIALIZED JSONExtractString(cloudevent, 'data', 'complaint_no');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS data_breaches UInt32
    MATERIALIZED length(arrayFilter(item -> JSONExtractString(item, 'result') = 'breach',
                                    JSONExtractArrayRaw(cloudevent, 'data', 'items')));

-- From the case summary the event carries (hwcase): the case after the event.
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS case_matter String
    MATERIALIZED JSONExtractString(JSONExtractString(cloudevent, 'hwcase'), 'matter_code');
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS case_tolerance UInt8
    MATERIALIZED JSONExtractInt(JSONExtractString(cloudevent, 'hwcase'),
                                'supplement_days') > 0;
ALTER TABLE {database}.events ADD COLUMN IF NOT EXISTS case_unaccepted UInt8
    MATERIALIZED JSONExtractString(JSONExtractString(cloudevent, 'hwcase'),
                                   'accepted_at') = '';

-- From each case's summary in the cases view.
ALTER TABLE {database}.cases ADD COLUMN IF NOT EXISTS working_days_used Int64
    MATERIALIZED JSONExtractInt(summary, 'working_days_used');
ALTER TABLE {database}.cases ADD COLUMN IF NOT EXISTS tolerance UInt8
    MATERIALIZED JSONExtractInt(summary, 'supplement_days') > 0;
ALTER TABLE {database}.cases ADD COLUMN IF NOT EXISTS missed_due UInt8
    MATERIALIZED JSONExtractString(summary, 'missed_due_at') != '';

-- From each alert's history: when it was noticed (督办) and escalated (red card), each time.
ALTER TABLE {database}.alerts ADD COLUMN IF NOT EXISTS noticed_at
    Array(DateTime64(3, 'Asia/Shanghai'))
    MATERIALIZED arrayMap(h -> parseDateTime64BestEffort(JSONExtractString(h, 'at'), 3),
                          arrayFilter(h -> JSONExtractString(h, 'status') = 'noticed',
                                      JSONExtractArrayRaw(body, 'history')));
ALTER TABLE {database}.alerts ADD COLUMN IF NOT EXISTS escalated_at
    Array(DateTime64(3, 'Asia/Shanghai'))
    MATERIALIZED arrayMap(h -> parseDateTime64BestEffort(JSONExtractString(h, 'at'), 3),
                          arrayFilter(h -> JSONExtractString(h, 'status') = 'escalated',
                                      JSONExtractArrayRaw(body, 'history')));
