"""Tokens and answer codes: shown once, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["new_token", "hash_secret", "matches", "answer_code", "store_fingerprint"]

TOKEN_PREFIX = "cns_"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_token() -> str:
    """A fresh actor token (about 256 bits), shown to its holder once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The hash stored in place of a token or an answer code."""
    return hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def answer_code(store_secret: str, task_id: str) -> str:
    """The task's answer code: derived from a per-store secret, so a retried assignment
    gives the same code again while the database itself keeps only its hash."""
    digest = hmac.new(store_secret.encode(), task_id.encode(), hashlib.sha256).digest()
    chars = [_CODE_ALPHABET[b % len(_CODE_ALPHABET)] for b in digest[:10]]
    return "".join(chars[:5]) + "-" + "".join(chars[5:])


def store_fingerprint(store_secret: str) -> str:
    """A short public name of one store, derived from its secret (which it does not reveal):
    it keeps the Prefect runs of two stores' decisions of the same id apart on one server."""
    return hashlib.sha256(f"counsel-store:{store_secret}".encode()).hexdigest()[:12]
