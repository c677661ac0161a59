"""Identifier formats. Conversations and their items use 48 lowercase hex digits (the format
OpenAI's ids have); responses and output items use the same length so every id looks alike."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def response_id() -> str:
    return new_id("resp")


def message_id() -> str:
    return new_id("msg")


def function_call_id() -> str:
    return new_id("fc")
