"""API keys with roles, hashed at rest.

A key is ``tf_<id>_<secret>``: the id finds the record, the secret (256 random bits) is checked
against its salted SHA-256. A fast hash is enough for random keys of this length (there is nothing
to guess from); only the hash is written to ``keys.json``, and the full key is shown once, when it
is made. Roles: ``viewer`` reads, ``operator`` also writes (twins, jobs, acknowledgements, faults),
``admin`` also manages keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from twinforge.errors import TwinforgeError

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what needs ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)  # type: ignore[arg-type]


@dataclass
class ApiKey:
    id: str
    name: str
    role: Role
    salt: str
    hash: str
    created: float
    revoked: bool = False

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "revoked": self.revoked,
        }


class KeyRingError(TwinforgeError):
    """A key cannot be made or found."""


class KeyRing:
    """The workspace's API keys (``keys.json``; thread-safe)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._keys = {k["id"]: ApiKey(**k) for k in data.get("keys", [])}
            except (ValueError, TypeError, KeyError) as exc:
                raise KeyRingError(f"cannot read API keys from {path}: {exc}") from None

    @property
    def enabled(self) -> bool:
        """Keys are required once one (not revoked) exists."""
        with self._lock:
            return any(not k.revoked for k in self._keys.values())

    def add(self, name: str, role: str) -> tuple[ApiKey, str]:
        """A new key; returns it and the full secret (shown once, never stored)."""
        if role not in ROLES:
            raise KeyRingError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if not name.strip() or len(name) > 80:
            raise KeyRingError("a key needs a name of 1-80 characters")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        key = ApiKey(key_id, name.strip(), role, salt, _digest(salt, secret), time.time())  # type: ignore[arg-type]
        with self._lock:
            self._keys[key_id] = key
            self._save()
        return key, f"tf_{key_id}_{secret}"

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                raise KeyRingError(f"no key {key_id!r}")
            key.revoked = True
            self._save()
        return key

    def list(self) -> list[ApiKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: k.created)

    def verify(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` is, or None (unknown, malformed, revoked or wrong)."""
        if not presented or not presented.startswith("tf_") or len(presented) > 200:
            return None
        parts = presented.split("_", 2)
        if len(parts) != 3:
            return None
        _, key_id, secret = parts
        with self._lock:
            key = self._keys.get(key_id)
        if key is None or key.revoked:
            return None
        return key if hmac.compare_digest(key.hash, _digest(key.salt, secret)) else None

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"keys": [asdict(k) for k in self._keys.values()]}, indent=1), encoding="utf-8"
        )
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + ":" + secret).encode("utf-8")).hexdigest()


__all__ = ["ROLES", "ApiKey", "KeyRing", "KeyRingError", "allows"]
