"""API keys: `rsk-` + 32 random bytes, shown once; only their SHA-256 is stored (a key is
high-entropy, so a fast hash is the right one: nothing to brute-force).

    key, record = await create(store, name="ci", owner="team-a", admin=False)
"""

from __future__ import annotations

import hashlib
import secrets
import time

from responsa import ids
from responsa.store.base import ApiKey, Store

PREFIX = "rsk-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(
    store: Store, name: str, owner: str | None = None, admin: bool = False
) -> tuple[str, ApiKey]:
    """A new key and its record; the owner defaults to the key's own id."""
    key = PREFIX + secrets.token_urlsafe(32)
    key_id = ids.new_id("key")[:28]
    record = ApiKey(key_id, name, owner or key_id, admin, hash_key(key), int(time.time()))
    await store.add_api_key(record)
    return key, record
