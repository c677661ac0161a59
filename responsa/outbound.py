"""The one outbound policy: every URL the server itself fetches for a client (MCP `server_url`,
the web search API) passes here, on every redirect too.

    policy = OutboundPolicy(["127.0.0.1:9000", "*.internal.example"])
    await policy.check("http://10.0.0.7/mcp")      # OutboundRefused: a private address

A destination is refused when any address its name resolves to is not a public unicast address
(loopback, private, link-local — cloud metadata at 169.254.169.254 —, multicast, reserved,
unspecified; IPv6 and IPv4-mapped IPv6 alike), unless the host (or `host:port`, or a `*.suffix`)
is allow-listed. The refusal names the host, never whether something listens there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from responsa.errors import InvalidRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(InvalidRequest):
    """The URL is not allowed by the outbound policy."""


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class OutboundPolicy:
    def __init__(self, allow: tuple[str, ...] | list[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        self.suffixes: list[str] = []
        for entry in allow:
            entry = entry.strip().lower()
            if entry.startswith("*."):
                self.suffixes.append(entry[1:])
            elif entry.count(":") == 1:
                host, _, port = entry.partition(":")
                self.host_ports.add((host, int(port)))
            else:
                self.hosts.add(entry.strip("[]"))

    def allowed(self, host: str, port: int) -> bool:
        return (
            host in self.hosts
            or (host, port) in self.host_ports
            or any(host.endswith(s) for s in self.suffixes)
        )

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise OutboundRefused(f"The URL {url!r} is not an http(s) URL.", code="outbound_refused")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if self.allowed(host, port):
            return
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                raise OutboundRefused(
                    f"The host {host!r} could not be resolved.", code="outbound_refused"
                ) from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses or not all(_public(a) for a in addresses):
            raise OutboundRefused(
                f"The server may not connect to {host!r}: it is not a public address "
                "(allow it with the setting outbound_allow).",
                code="outbound_refused",
            )
