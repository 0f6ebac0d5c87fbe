"""API keys: ``role:principal:secret`` from settings, kept only as SHA-256 digests.

Routes never parse the Authorization header themselves: they declare the roles they
admit with a FastAPI dependency, which also puts the bearer scheme in the OpenAPI
document::

    def get_thing(principal: Annotated[Principal, Depends(keys.requires("bureau"))]): ...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hallwatch.errors import Forbidden
from services.common.settings import KeySpec

# auto_error=False: a missing key is answered by our own 401 problem details.
BEARER = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key: `Authorization: Bearer <key>`. Roles: hall, "
                                "bureau, auditor, monitor (metrics and health detail).")


class Unauthenticated(Exception):
    """No key, or an unknown one (401)."""


@dataclass(frozen=True)
class Principal:
    role: str  # hall | bureau | auditor | monitor
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
        return self.identify(secret)

    def identify(self, secret: str) -> Principal:
        """The principal holding ``secret``; every key is compared, in constant time."""
        wanted = _digest(secret.strip())
        found = None
        for digest, principal in self._keys:
            if hmac.compare_digest(digest, wanted):
                found = principal
        if found is None:
            raise Unauthenticated("unknown key")
        return found

    def requires(self, *roles: str) -> Callable[..., Principal]:
        """A dependency answering the caller's principal: 401 without a known key, 403
        unless its role is one of ``roles``."""

        def dependency(credentials: Annotated[HTTPAuthorizationCredentials | None,
                                              Depends(BEARER)]) -> Principal:
            if credentials is None or not credentials.credentials:
                raise Unauthenticated("send Authorization: Bearer <key>")
            principal = self.identify(credentials.credentials)
            require(principal, *roles)
            return principal

        return dependency


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
