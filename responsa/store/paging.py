"""Keyset pages over rows ordered by `(created_at, pk)`, the order of every listed table.

cursor = conn.execute(select(c.created_at, c.pk).where(c.id == after)).first()
conditions.append(past(c, cursor, newer=order == "asc"))
rows = conn.execute(select(table).where(*conditions).order_by(*in_order(c, ascending))...)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_


def past(c: Any, cursor: Any, newer: bool) -> ColumnElement[bool]:
    """The rows after `cursor` (a row with `created_at` and `pk`): the newer ones, or the older."""
    if newer:
        return or_(
            c.created_at > cursor.created_at, and_(c.created_at == cursor.created_at, c.pk > cursor.pk)
        )
    return or_(c.created_at < cursor.created_at, and_(c.created_at == cursor.created_at, c.pk < cursor.pk))


def in_order(c: Any, ascending: bool) -> tuple[Any, Any]:
    """The ORDER BY keys: oldest first, or newest first."""
    return (c.created_at.asc(), c.pk.asc()) if ascending else (c.created_at.desc(), c.pk.desc())
