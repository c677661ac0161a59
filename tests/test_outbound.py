"""The outbound policy decides before any connection: these checks resolve names, never connect."""

from __future__ import annotations

import asyncio

import pytest

from responsa.outbound import OutboundPolicy, OutboundRefused

REFUSED = [
    "http://127.0.0.1:9000/mcp",
    "http://localhost/mcp",  # a name that resolves to loopback
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.1.2.3/",
    "http://172.16.0.9/",
    "http://192.168.1.1/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "ftp://example.com/",
    "http:///nohost",
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_destinations_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused) as info:
        asyncio.run(OutboundPolicy().check(url))
    assert info.value.code == "outbound_refused" and "open" not in info.value.message


def test_public_addresses_and_the_allow_list_pass() -> None:
    policy = OutboundPolicy(["127.0.0.1:9000", "*.internal.example", "localhost"])
    for url in (
        "https://8.8.8.8/",
        "http://[2001:4860:4860::8888]/",
        "http://127.0.0.1:9000/mcp",
        "http://localhost:1/",
    ):
        asyncio.run(policy.check(url))
    with pytest.raises(OutboundRefused):
        asyncio.run(policy.check("http://127.0.0.1:9001/mcp"))  # only that port is allowed
    assert policy.allowed("mcp.internal.example", 443) and not policy.allowed("internal.example.com", 443)
