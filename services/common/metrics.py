"""Prometheus metrics shared by the services (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

ACCEPTED = Counter("hallwatch_events_accepted_total", "Hall events stored", ["type"])
REFUSED = Counter("hallwatch_events_refused_total", "Hall events refused", ["status"])
RELAYED = Counter("hallwatch_events_relayed_total", "Events published to Kafka")
PROJECTED = Counter("hallwatch_events_projected_total", "Events written to ClickHouse")
ALERTS = Counter("hallwatch_alerts_raised_total", "Warnings and findings raised", ["rule"])
RELAY_POSITION = Gauge("hallwatch_relay_position",
                       "Last event-store position a relay had acknowledged by Kafka", ["relay"])
REQUEST_SECONDS = Histogram("hallwatch_intake_seconds", "Time to store one hall event")
