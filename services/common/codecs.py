"""Kafka (de)serialisers: keys as UTF-8 text, values as JSON text (UTF-8, not escaped)."""

from __future__ import annotations

import json
from typing import Any

from kafka.serializer import Deserializer, Serializer


class Text(Serializer, Deserializer):  # type: ignore[misc]
    def serialize(self, topic: str, headers: Any, data: str | None) -> bytes | None:
        return data.encode() if data is not None else None

    def deserialize(self, topic: str, headers: Any, data: bytes | None) -> str:
        # The raw JSON text is kept too: the sink stores it without re-encoding.
        return data.decode() if data is not None else ""


class Json(Serializer):  # type: ignore[misc]
    def serialize(self, topic: str, headers: Any, data: Any) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()
