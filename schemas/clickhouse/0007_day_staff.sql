-- hallwatch ClickHouse views, version 7: each member of staff on each day, as the post
-- counters need them. The counters read every staff event of the day (tens of thousands
-- for a city), grouped by person, to find who acted and each one's latest post event;
-- this table holds one row per person, window and day once merged (FINAL): the latest
-- post event (absence noticed or resumed), or, for one who only acted, a row with none.
-- The version is the post event's time (1970 for any other act), so the latest post event
-- wins and an act never hides it.
CREATE TABLE IF NOT EXISTS {database}.day_staff (
    day Date, hall_id LowCardinality(String), window_id String, staff_id String,
    post_at DateTime64(3, 'Asia/Shanghai'), post_type LowCardinality(String),
    substitute_staff_id String
) ENGINE = ReplacingMergeTree(post_at) ORDER BY (day, hall_id, window_id, staff_id);

-- Views written before this table existed: copied once (while it is still empty).
INSERT INTO {database}.day_staff
SELECT day, hall_id, window_id, staff_id,
       if(type IN ('post.absence_noticed', 'post.resumed'), time,
          toDateTime64(0, 3, 'Asia/Shanghai')),
       if(type IN ('post.absence_noticed', 'post.resumed'), type, ''),
       if(type IN ('post.absence_noticed', 'post.resumed'), substitute_staff_id, '')
FROM {database}.day_events
WHERE (SELECT count() FROM {database}.day_staff) = 0;
