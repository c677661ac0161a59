"""The redaction rules: every kind of credential becomes its placeholder, in any string of a
body; ordinary text (and a logprob's `token`) is left alone."""

from __future__ import annotations

from responsa.recording.redact import Redaction

RULES = Redaction.build(patterns=[r"ACME-\d{6}"], fields=["X-Internal-Key"])
SECRETS = {
    "api_key": "sk-proj-" + "a" * 30,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ",
    "bearer": "Bearer " + "b" * 24,
    "aws_access_key": "AKIA" + "ABCDEFGHIJKLMNOP",
    "github_token": "ghp_" + "c" * 36,
    "slack_token": "xoxb-" + "1234567890-abc",
    "google_api_key": "AIza" + "d" * 35,
    "tavily_key": "tvly-" + "e" * 20,
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "custom": "ACME-123456",
}


def test_each_kind_is_replaced_wherever_it_is() -> None:
    for kind, secret in SECRETS.items():
        body = {"messages": [{"role": "user", "content": [{"type": "text", "text": f"use {secret} now"}]}]}
        redacted = RULES.request(body)
        assert redacted["messages"][0]["content"][0]["text"] == f"use [REDACTED:{kind}] now", kind
        assert secret not in str(redacted)


def test_fields_by_name_in_requests_only_and_plain_text_untouched() -> None:
    body = {"headers": {"Authorization": "opaque", "X-Internal-Key": "k1"}, "api_key": "short"}
    assert RULES.request(body) == {
        "headers": {"Authorization": "[REDACTED:field]", "X-Internal-Key": "[REDACTED:field]"},
        "api_key": "[REDACTED:field]",
    }
    plain = {"content": "the bearer of news asked for sk-1 and a ghost token", "token": "Hello"}
    assert RULES.request(plain) == plain
    response = {"body": [{"logprobs": [{"token": "Hello", "logprob": -0.1}]}]}
    assert RULES.response(response) == response
    assert Redaction.build().request({"x": "ACME-123456"}) == {"x": "ACME-123456"}  # not a default rule
