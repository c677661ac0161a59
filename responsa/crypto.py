"""Sealed payloads: what Responsa hands a stateless client to give back later, unreadable and
unforgeable by it (reasoning in `encrypted_content`, and later compaction).

    sealer = Sealer(key)                              # 32 bytes, from settings or the database
    token = sealer.seal("reasoning", {"text": ...})   # "rs1." + base64url(key id, nonce, ciphertext)
    data = sealer.open("reasoning", token, param="input[2].encrypted_content")

AES-256-GCM (authenticated): a changed byte, another server's key or another purpose is an
`InvalidRequest` naming the parameter, never a 500. The version prefix lets the format change
without breaking tokens already handed out; the key id tells a foreign key from tampering.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from responsa.errors import InvalidRequest

PREFIX = "rs1."
KEY_BYTES = 32
_NONCE = 12
_KEY_ID = 8


def new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _decode_key(key: str) -> bytes | None:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == KEY_BYTES else None


def check_key(key: str) -> str | None:
    """Why `key` cannot be used, or None."""
    return None if _decode_key(key) is not None else f"expected {KEY_BYTES} bytes in base64"


class Sealer:
    def __init__(self, key: str) -> None:
        raw = _decode_key(key)
        if raw is None:
            raise ValueError(check_key(key))
        self._aead = AESGCM(raw)
        self._key_id = hashlib.sha256(b"responsa-key-id" + raw).digest()[:_KEY_ID]

    def seal(self, purpose: str, data: dict[str, Any]) -> str:
        nonce = os.urandom(_NONCE)
        header = self._key_id + nonce
        sealed = self._aead.encrypt(nonce, orjson.dumps(data), purpose.encode() + header)
        return PREFIX + base64.urlsafe_b64encode(header + sealed).decode().rstrip("=")

    def open(self, purpose: str, token: object, *, param: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token.startswith(PREFIX):
            raise InvalidRequest(
                f"Invalid value for '{param}': this encrypted content was not made by this server.",
                param=param,
                code="invalid_encrypted_content",
            )
        body = token[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < _KEY_ID + _NONCE + 16:
            raise InvalidRequest(
                f"Invalid value for '{param}': the encrypted content is malformed.",
                param=param,
                code="invalid_encrypted_content",
            )
        header, sealed = raw[: _KEY_ID + _NONCE], raw[_KEY_ID + _NONCE :]
        if header[:_KEY_ID] != self._key_id:
            raise InvalidRequest(
                f"Invalid value for '{param}': the encrypted content was sealed with another server key.",
                param=param,
                code="invalid_encrypted_content",
            )
        try:
            plain = self._aead.decrypt(header[_KEY_ID:], sealed, purpose.encode() + header)
        except InvalidTag:
            raise InvalidRequest(
                f"Invalid value for '{param}': the encrypted content was altered.",
                param=param,
                code="invalid_encrypted_content",
            ) from None
        data: dict[str, Any] = orjson.loads(plain)
        return data
