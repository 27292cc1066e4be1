"""The signing secret, signed cookies and CSRF tokens (invite and session tokens
themselves are :mod:`redline.accounts.tokens`).

- The signing secret lives in the data directory (created once, mode 0600) so sessions
  survive a restart and several workers agree on it.
- CSRF tokens are an HMAC of the session (or, before sign-in, of a pre-session cookie):
  stateless, unguessable without the secret, bound to one browser.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from redline.errors import ConfigError

SECRET_FILE = "session_secret"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing secret from ``data_dir/session_secret``, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fd = -1
    if fd < 0:
        secret = path.read_bytes().strip()
        if len(secret) < 32:
            raise ConfigError(f"{path} is too short to be a secret; delete it to make a new one")
        return secret
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def signed_cookie(secret: bytes, token: str) -> str:
    return f"{token}.{sign(secret, 'cookie', token)[:32]}"


def unsign_cookie(secret: bytes, value: str | None) -> str | None:
    """The token inside a cookie, or None when it is missing or was not signed by us."""
    if not value or "." not in value:
        return None
    token, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, sign(secret, "cookie", token)[:32]):
        return None
    return token


def csrf_token(secret: bytes, binding: str) -> str:
    return sign(secret, "csrf", binding)


def csrf_ok(secret: bytes, binding: str | None, supplied: str | None) -> bool:
    if not binding or not supplied:
        return False
    return hmac.compare_digest(csrf_token(secret, binding), supplied)
