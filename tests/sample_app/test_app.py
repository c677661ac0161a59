"""The sample app's own tests: they know nothing of recordings, only the `responsa_client`
fixture the plugin gives them."""

from __future__ import annotations

from typing import Any

from app import follow_up, greet


def test_greet(responsa_client: Any) -> None:
    assert greet(responsa_client, "Ada")


def test_follow_up(responsa_client: Any) -> None:
    first, second = follow_up(responsa_client)
    assert first and second
    print(f"ANSWERS {first!r} {second!r}")  # the outer test compares record and replay runs
