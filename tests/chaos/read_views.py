"""Prints per-id row counts of the events view and each alert's rows and status, as JSON:
``python -m tests.chaos.read_views CHDB_DIR`` (its own SQL; one process per chDB dir)."""

import json
import sys

import clickhouse_connect

client = clickhouse_connect.get_client(dsn=f"chdb:///{sys.argv[1]}")
events = dict(client.query("SELECT id, count() FROM hallwatch.events FINAL GROUP BY id")
              .result_rows)
alerts = {alert_id: {"rows": rows, "status": status} for alert_id, rows, status in
          client.query("SELECT alert_id, count(), any(status) FROM hallwatch.alerts FINAL "
                       "GROUP BY alert_id").result_rows}
print(json.dumps({"events": events, "alerts": alerts}))
client.close()
