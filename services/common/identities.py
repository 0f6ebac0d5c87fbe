"""Named principals from a key/user file, re-read when it changes (no restart).

The file (``HALLWATCH_KEYS_FILE``) is JSON::

    {"principals": [
      {"id": "zhangwei", "name": "张伟", "role": "bureau",
       "password": "$argon2id$v=19$m=65536,t=3,p=4$..."},
      {"id": "H1", "name": "一号分厅叫号系统", "role": "hall",
       "keys": ["<sha256 hex of the key>", "<sha256 hex of the next key>"]}
    ]}

Passwords are argon2id hashes (argon2-cffi); keys are kept as SHA-256 digests only, and a
principal may hold several so a key is rotated by adding the new one, switching the
system over, then removing the old one. ``hallwatch user add`` writes entries.

The file's modification time is checked on every authentication (one ``stat``); a file
that fails to parse keeps the last good directory (logged), so a half-written edit never
locks everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.settings import ROLES

log = logging.getLogger(__name__)
HASHER = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a
# wrong password (no user enumeration by timing).
_DUMMY_HASH = HASHER.hash("not a password anyone has")


class DirectoryError(ValueError):
    """The key/user file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    id: str
    role: str
    name: str
    password: str  # argon2 hash, or ""
    keys: tuple[bytes, ...]  # SHA-256 digests


def key_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.strip().encode()).digest()


def parse(text: str) -> list[Entry]:
    """The entries of a key/user file; DirectoryError for anything malformed."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise DirectoryError(f"not JSON: {error}") from None
    items = data.get("principals") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DirectoryError('must be an object with a "principals" list')
    entries, seen = [], set()
    for index, item in enumerate(items):
        where = f"principals[{index}]"
        if not isinstance(item, dict):
            raise DirectoryError(f"{where}: must be an object")
        ident, role = item.get("id"), item.get("role")
        if not isinstance(ident, str) or not ident.strip():
            raise DirectoryError(f"{where}.id: must be a non-empty string")
        if role not in ROLES:
            raise DirectoryError(f"{where}.role: must be one of {', '.join(ROLES)}")
        if (role, ident) in seen:
            raise DirectoryError(f"{where}: {role} {ident!r} is listed twice")
        seen.add((role, ident))
        password = item.get("password", "")
        if not isinstance(password, str) or (password and not password.startswith("$argon2")):
            raise DirectoryError(f"{where}.password: must be an argon2 hash")
        keys = item.get("keys", [])
        if not isinstance(keys, list) or not all(
                isinstance(k, str) and len(k) == 64 and _is_hex(k) for k in keys):
            raise DirectoryError(f"{where}.keys: must be SHA-256 hex digests")
        name = item.get("name", "")
        if not isinstance(name, str):
            raise DirectoryError(f"{where}.name: must be a string")
        entries.append(Entry(ident, str(role), name, password,
                             tuple(bytes.fromhex(k) for k in keys)))
    return entries


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


class Directory:
    """The principals of a key/user file, reloaded when its mtime, size or inode
    changes (an edit in place or a replacement)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._entries: list[Entry] = []
        self._lock = threading.Lock()

    def entries(self) -> list[Entry]:
        if self.path is None:
            return []
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            stamp = (0, -1, 0)  # missing: nobody from the file
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._entries

    def _reload(self, stamp: tuple[int, int, int]) -> None:
        if stamp[1] < 0:
            self._entries, self._stamp = [], stamp
            return
        assert self.path is not None
        try:
            self._entries = parse(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, DirectoryError) as error:
            log.error("keys file %s not loaded, keeping the previous one: %s", self.path, error)
        self._stamp = stamp

    def by_key(self, digest: bytes) -> Entry | None:
        found = None
        for entry in self.entries():
            for known in entry.keys:
                if hmac.compare_digest(known, digest):
                    found = entry
        return found

    def by_password(self, user: str, password: str) -> Entry | None:
        """The entry named ``user`` if ``password`` verifies against its hash."""
        entry = next((e for e in self.entries() if e.id == user and e.password), None)
        try:
            HASHER.verify(entry.password if entry else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return entry


# -- writing the file (the CLI) -----------------------------------------------------


def add_user(path: Path, ident: str, role: str, password: str, name: str = "") -> None:
    """Add or replace ``ident``'s password (argon2id) in the file, written atomically so
    a running server never reads half a file."""
    if role not in ROLES:
        raise DirectoryError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise DirectoryError("password must be at least 10 characters")
    data: dict[str, Any] = {"principals": []}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        parse(text)  # refuse to rewrite a file we could not read
        data = json.loads(text)
    items = data["principals"]
    entry = next((i for i in items if i.get("id") == ident and i.get("role") == role), None)
    if entry is None:
        entry = {"id": ident, "role": role}
        items.append(entry)
    entry["password"] = HASHER.hash(password)
    if name:
        entry["name"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
