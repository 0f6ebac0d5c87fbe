#!/bin/bash
# Creates hallwatch's Kafka topics (idempotent). Run once the brokers are up.
#   hall.events         every stored hall event, keyed by case number / stream: the replayable
#                       log projections rebuild from, so it is kept (retention.ms=-1).
#   supervision.alerts  each alert's state after every change, keyed by alert id: compacted,
#                       the latest state of every alert is kept.
# Replication 3 with min.insync.replicas 2: the relay's acks=all survives one broker down.
set -euo pipefail
BIN=/opt/kafka/bin
BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
create() {
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor "${REPLICATION:-3}" \
    --config min.insync.replicas="${MIN_INSYNC:-2}" \
    "${@:3}"
}
create hall.events "${HALL_PARTITIONS:-12}" --config retention.ms=-1 \
  --config max.message.bytes=2097152
create supervision.alerts "${ALERT_PARTITIONS:-6}" --config cleanup.policy=compact \
  --config min.compaction.lag.ms=86400000
"$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe
