"""API keys: ``role:principal:secret`` from settings, kept only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from hallwatch.errors import Forbidden
from services.common.settings import KeySpec


class Unauthenticated(Exception):
    """No key, or an unknown one (401)."""


@dataclass(frozen=True)
class Principal:
    role: str  # hall | bureau | auditor
    id: str  # the hall id for halls

    @property
    def hall(self) -> str | None:
        return self.id if self.role == "hall" else None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Keyring:
    def __init__(self, specs: list[KeySpec]) -> None:
        self._keys = [(_digest(s.secret), Principal(s.role, s.principal)) for s in specs]

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("send Authorization: Bearer <key>")
        wanted = _digest(secret.strip())
        found = None
        for digest, principal in self._keys:
            if hmac.compare_digest(digest, wanted):  # constant time, every key compared
                found = principal
        if found is None:
            raise Unauthenticated("unknown key")
        return found


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
