"""The hash chains' key: separate from the cipher key, and in production kept away from
the data (an environment variable or a file on another volume, e.g. a secrets mount)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.settings import Settings


def _decode(text: str, name: str) -> bytes:
    from services.common.settings import SettingsError

    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise SettingsError(f"{name}: must be base64 (e.g. from `hallwatch keygen`)") from None
    if len(raw) < 16:
        raise SettingsError(f"{name}: must decode to at least 16 bytes")
    return raw


def chain_secret(settings: Settings) -> bytes:
    from services.common.settings import SettingsError

    if settings.chain_key:
        return _decode(settings.chain_key, "HALLWATCH_CHAIN_KEY")
    if settings.chain_key_file:
        path = Path(settings.chain_key_file)
        try:
            text = path.read_text()
        except OSError as error:
            raise SettingsError(f"HALLWATCH_CHAIN_KEY_FILE: {error.strerror}: {path}") from None
        return _decode(text, "HALLWATCH_CHAIN_KEY_FILE")
    if not settings.store_url.startswith("sqlite") or not settings.embedded:
        raise SettingsError("HALLWATCH_CHAIN_KEY or HALLWATCH_CHAIN_KEY_FILE: must be set "
                            "outside the embedded mode (the chain key is never kept beside "
                            "the data there)")
    path = settings.data_dir / "chain.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return _decode(path.read_text(), str(path))
