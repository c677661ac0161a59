"""The caller: an owner, and whether it is an admin (sees every owner's objects)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    owner: str
    admin: bool = False

    @property
    def scope(self) -> str | None:
        """The owner whose objects this caller may read: its own, or any (None) for admins."""
        return None if self.admin else self.owner


# Without authentication (loopback, no keys, no OIDC) everyone is this one owner.
OPEN = Principal("")
current_principal: ContextVar[Principal] = ContextVar("responsa_principal", default=OPEN)
