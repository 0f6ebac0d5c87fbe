"""Who is calling: API keys, named users with passwords, and console sessions.

Principals come from two places, both kept only as digests or hashes:

- ``HALLWATCH_KEYS`` (``role:principal:secret``, read at start);
- ``HALLWATCH_KEYS_FILE`` (identities.py: keys and argon2 password hashes, with names),
  re-read when it changes, so keys are added, rotated and withdrawn without a restart.

A console session is a signed token ``hws1.<claims>.<hmac>`` (HMAC-SHA256 with
``HALLWATCH_SESSION_KEY``, or a key made once in the data directory) holding the
principal, its role, an expiry (``SESSION_SECONDS``) and a fingerprint of the credential
it signed in with: changing a password or withdrawing a key ends its sessions. The
console keeps it in an HttpOnly, SameSite=Strict cookie; ``SessionCookieMiddleware``
passes the cookie on as the bearer, so every route admits a session like a key.

Routes never parse the Authorization header themselves: they declare the roles they
admit with a FastAPI dependency, which also puts the bearer scheme in the OpenAPI
document::

    def get_thing(principal: Annotated[Principal, Depends(keys.requires("bureau"))]): ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hallwatch.errors import Forbidden
from services.common.identities import Directory, key_digest
from services.common.settings import KeySpec

if TYPE_CHECKING:
    from services.common.settings import Settings

# auto_error=False: a missing key is answered by our own 401 problem details.
BEARER = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key or a console session token: `Authorization: "
                                "Bearer <key>`. Roles: hall, bureau, auditor, monitor "
                                "(metrics and health detail).")
SESSION_COOKIE = "hallwatch_session"
SESSION_PREFIX = "hws1."
SESSION_SECONDS = 8 * 3600  # one working day; signing in again after that


class Unauthenticated(Exception):
    """No key, or an unknown one (401)."""


@dataclass(frozen=True)
class Principal:
    role: str  # hall | bureau | auditor | monitor
    id: str  # the hall id for halls; the user name for officials
    name: str = ""  # the person's or system's name, when the key/user file gives one

    @property
    def hall(self) -> str | None:
        return self.id if self.role == "hall" else None

    @property
    def actor(self) -> str:
        """How an action by this principal is recorded: name and id (张伟（zhangwei）)."""
        return f"{self.name}（{self.id}）" if self.name and self.name != self.id else self.id


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _fingerprint(credential: bytes | str) -> str:
    raw = credential.encode() if isinstance(credential, str) else credential
    return hashlib.sha256(b"session/" + raw).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    def __init__(self, specs: list[KeySpec], file: Path | None = None,
                 session_secret: bytes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._keys = [(_digest(s.secret), Principal(s.role, s.principal)) for s in specs]
        self.directory = Directory(file)
        self._session_secret = session_secret or secrets.token_bytes(32)
        self._clock = clock

    @classmethod
    def of(cls, settings: Settings) -> Keyring:
        """The keyring a process's settings describe (keys, key file, session key)."""
        file = Path(settings.keys_file) if settings.keys_file else None
        return cls(settings.key_specs, file, settings.session_secret())

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("send Authorization: Bearer <key>")
        return self.identify(secret)

    def identify(self, secret: str) -> Principal:
        """The principal holding ``secret`` (a key or a session token); every key is
        compared, in constant time."""
        secret = secret.strip()
        if secret.startswith(SESSION_PREFIX):
            return self._session(secret)
        principal, _ = self._by_key(secret)
        if principal is None:
            raise Unauthenticated("unknown key")
        return principal

    def _by_key(self, secret: str) -> tuple[Principal | None, bytes]:
        wanted = key_digest(secret)
        found = None
        for digest, principal in self._keys:
            if hmac.compare_digest(digest, wanted):
                found = principal
        entry = self.directory.by_key(wanted)
        if entry is not None:
            found = Principal(entry.role, entry.id, entry.name)
        return found, wanted

    # -- sessions ----------------------------------------------------------------------

    def sign_in(self, *, user: str = "", password: str = "", key: str = ""
                ) -> tuple[Principal, str]:
        """Check a user name and password, or a key; answer the principal and a session
        token for it. Unauthenticated for a wrong one (which one is not said)."""
        if user:
            entry = self.directory.by_password(user, password)
            if entry is None:
                raise Unauthenticated("wrong user name or password")
            principal = Principal(entry.role, entry.id, entry.name)
            credential: bytes | str = entry.password
        else:
            found, credential = self._by_key(key) if key else (None, b"")
            if found is None:
                raise Unauthenticated("unknown key")
            principal = found
        return principal, self._token(principal, _fingerprint(credential))

    def _token(self, principal: Principal, fingerprint: str) -> str:
        claims = {"sub": principal.id, "role": principal.role, "fp": fingerprint,
                  "exp": int(self._clock()) + SESSION_SECONDS}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._session_secret, body.encode(), hashlib.sha256).digest()
        return f"{SESSION_PREFIX}{body}.{_b64(mac)}"

    def _session(self, token: str) -> Principal:
        body, _, mac = token[len(SESSION_PREFIX):].partition(".")
        expected = _b64(hmac.new(self._session_secret, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, mac):
            raise Unauthenticated("invalid session; sign in again")
        claims: dict[str, Any] = json.loads(_unb64(body))  # ours: the MAC matched
        if claims["exp"] < self._clock():
            raise Unauthenticated("session expired; sign in again")
        for entry in self.directory.entries():
            if entry.id == claims["sub"] and entry.role == claims["role"]:
                credentials: list[bytes | str] = [*entry.keys]
                if entry.password:
                    credentials.append(entry.password)
                if any(_fingerprint(c) == claims["fp"] for c in credentials):
                    return Principal(entry.role, entry.id, entry.name)
        for digest, principal in self._keys:
            if (principal.id, principal.role) == (claims["sub"], claims["role"]) and \
                    _fingerprint(digest) == claims["fp"]:
                return principal
        raise Unauthenticated("the credential of this session was changed; sign in again")

    # -- the route dependency ---------------------------------------------------------------

    def requires(self, *roles: str) -> Callable[..., Principal]:
        """A dependency answering the caller's principal: 401 without a known key, 403
        unless its role is one of ``roles``."""

        def dependency(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None,
                                              Depends(BEARER)]) -> Principal:
            if credentials is None or not credentials.credentials:
                raise Unauthenticated("send Authorization: Bearer <key>")
            principal = self.identify(credentials.credentials)
            request.state.principal = principal.id  # for the access log
            require(principal, *roles)
            return principal

        return dependency


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
