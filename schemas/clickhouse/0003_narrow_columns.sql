-- hallwatch ClickHouse views, version 3: a value the lights read on every request, as a
-- column of its own, so that a dashboard query reads a narrow column instead of parsing
-- JSON (at a million cases, parsing each case's summary was most of the time of
-- GET /v1/halls). Rows written before the column existed compute it from their JSON (on
-- read, and for good at their next merge).

-- The day a suspended case's clock stopped (the sink writes it).
ALTER TABLE {database}.cases ADD COLUMN IF NOT EXISTS suspended_since
    Nullable(DateTime64(3, 'Asia/Shanghai'))
    DEFAULT parseDateTime64BestEffortOrNull(JSONExtractString(summary, 'suspended_since'),
                                            3, 'Asia/Shanghai');
