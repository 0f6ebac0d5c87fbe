"""Domain errors. The HTTP edge maps each class to one status code, in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the domain refuses, with a plain reason."""

    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class InvalidEvent(DomainError):
    """Malformed input: a field is missing, of the wrong type or out of range (422)."""


class Forbidden(DomainError):
    """The caller's key may not do this (403)."""


class NotFound(DomainError):
    """The case, alert or resource does not exist (404)."""


class ImpossibleSequence(DomainError):
    """The fact cannot follow the case's history, e.g. completing a rejected case (409)."""


class IdempotencyConflict(DomainError):
    """An event id was reused with different content (409)."""
