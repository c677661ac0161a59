"""Redaction: no credential reaches a recording, and a request carrying one still hits.

    redaction = Redaction.build(patterns=[...], fields=[...])   # `recording.redact` settings
    body = redaction.request(body)      # before its key is computed, and before it is written
    response = redaction.response(response)

Every string of a recorded request is scanned for credentials — `sk-` API keys (OpenAI,
Anthropic, …), bearer tokens, JWTs, AWS access keys, GitHub, Slack, Google and Tavily tokens,
PEM private keys — and each one found is replaced by a placeholder naming its kind
(`[REDACTED:jwt]`); the value of a field named like a credential (`authorization`,
`api_key`, … and `recording.redact.fields`) is replaced whole. Responses are scanned for the
same patterns (not by field name: a logprob's `token` is no secret).

The placeholder does not depend on the secret, and the key of a recording is computed from
the redacted body: a request that carries a secret is looked up by its redacted form, so it
hits the recording made with another secret, and the secret is never written. A body with no
credential is unchanged, so existing recordings (the seeds' among them) keep their keys.
`recording.redact.patterns` adds regular expressions (replaced by `[REDACTED:custom]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PATTERNS: tuple[tuple[str, str], ...] = (
    ("private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("bearer", r"\b[Bb](?i:earer)\s+[A-Za-z0-9._~+/-]{16,}=*"),
    ("api_key", r"\bsk-(?:proj-|ant-|live-|test-|or-)?[A-Za-z0-9_-]{20,}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("tavily_key", r"\btvly-[A-Za-z0-9_-]{16,}"),
)
# A substring every match of PATTERNS contains: a string with none of them needs no regex.
LITERALS = (
    "PRIVATE KEY",
    "eyJ",
    "earer",
    "EARER",
    "sk-",
    "AKIA",
    "ASIA",
    "gh",
    "github_pat_",
    "xox",
    "AIza",
    "tvly-",
)
FIELDS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api_key",
        "api-key",
        "x-api-key",
        "apikey",
        "access_token",
        "refresh_token",
        "client_secret",
        "tavily_search_api_key",
    }
)
PLACEHOLDER = "[REDACTED:{}]"


@dataclass(frozen=True)
class Redaction:
    combined: re.Pattern[str]  # every pattern as one alternation of named groups: one pass
    names: tuple[str, ...]  # the kind of each group, in order
    fields: frozenset[str]
    literals: tuple[str, ...]  # one of these is in every match of the built-in patterns; () with custom ones

    @classmethod
    def build(cls, patterns: Iterable[str] = (), fields: Iterable[str] = ()) -> Redaction:
        custom = list(patterns)
        rules = [*PATTERNS, *(("custom", p) for p in custom)]
        combined = re.compile("|".join(f"(?P<g{i}>{rx})" for i, (_, rx) in enumerate(rules)))
        literals = () if custom else LITERALS
        return cls(combined, tuple(name for name, _ in rules), FIELDS | {f.lower() for f in fields}, literals)

    def text(self, value: str) -> str:
        """`value` with every credential in it replaced by its placeholder."""
        if self.literals and not any(literal in value for literal in self.literals):
            return value  # the common case, without running the regular expression
        if not self.combined.search(value):
            return value

        def placeholder(match: re.Match[str]) -> str:
            index = int(str(match.lastgroup)[1:])
            return PLACEHOLDER.format(self.names[index])

        return self.combined.sub(placeholder, value)

    def _walk(self, value: Any, by_field: bool, key: str = "") -> Any:
        if isinstance(value, str):
            if by_field and value and key.lower() in self.fields and not value.startswith("[REDACTED:"):
                return PLACEHOLDER.format("field")
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._walk(v, by_field, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, by_field) for v in value]
        return value

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        redacted: dict[str, Any] = self._walk(body, True)
        return redacted

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        redacted: dict[str, Any] = self._walk(response, False)
        return redacted
