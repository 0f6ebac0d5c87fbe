-- hallwatch ClickHouse views, version 2: which alerts each case has, keyed by case, so
-- that reading a case's alerts looks them up by primary key (here, then in alerts by
-- alert_id) instead of scanning every alert. Written with each alert (an alert's case
-- never changes).
CREATE TABLE IF NOT EXISTS {database}.alerts_by_case (
    case_no String, alert_id String
) ENGINE = ReplacingMergeTree ORDER BY (case_no, alert_id);

-- Alerts written before this table existed: copied once (when it is still empty).
INSERT INTO {database}.alerts_by_case
SELECT case_no, alert_id FROM {database}.alerts
WHERE case_no != '' AND (SELECT count() FROM {database}.alerts_by_case) = 0;
