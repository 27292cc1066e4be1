"""Invite and session tokens: 32 random bytes, of which the store keeps only the SHA-256,
so a copy of the database opens no door."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
