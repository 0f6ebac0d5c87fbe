"""The compiled implementations the hot paths rely on are the ones in use: kafka-python
checksums record batches with the crc32c package, not its pure-Python fallback (most of
the relay's time), and psycopg talks to PostgreSQL through its C implementation, not the
ctypes one (over half of the intake's time on PostgreSQL)."""

from __future__ import annotations

import crc32c
import psycopg
from kafka.record import util
from kafka.record._crc32c import crc as pure_python_crc32c
from kafka.record.default_records import DefaultRecordBatchBuilder


def test_kafka_python_checksums_record_batches_with_the_compiled_crc32c():
    assert util.calc_crc32c.__defaults__ == (crc32c.crc32c,)


def test_the_compiled_checksum_equals_kafkas_own_on_a_built_record_batch():
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    builder.append(0, timestamp=1_791_770_400_000, key=b"C1", value=b'{"type":"x"}',
                   headers=[])
    batch = bytes(builder.build())
    # The CRC field (bytes 17..20) covers everything from the attributes on (byte 21).
    stored = int.from_bytes(batch[17:21], "big")
    assert stored == crc32c.crc32c(batch[21:]) == pure_python_crc32c(batch[21:])


def test_psycopg_uses_its_compiled_implementation():
    assert psycopg.pq.__impl__ in ("binary", "c")
