"""Attribute filters of a search (OpenAI's `ComparisonFilter` and `CompoundFilter`), checked
once and then applied to each file's attributes before any ranking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from responsa.errors import InvalidRequest

Predicate = Callable[[dict[str, Any]], bool]
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}.", param=param)


def _ordered(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    if isinstance(left, int | float) and isinstance(right, int | float):
        pass
    elif not (isinstance(left, str) and isinstance(right, str)):
        return False
    result: bool = {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    return result


def _same(left: Any, right: Any) -> bool:
    """Equal, with booleans equal only to booleans (True is not 1 here)."""
    return isinstance(left, bool) == isinstance(right, bool) and bool(left == right)


def _among(value: Any, choices: list[Any]) -> bool:
    return any(_same(value, choice) for choice in choices)


def _comparison(spec: dict[str, Any], param: str) -> Predicate:
    key, op, value = spec.get("key"), spec["type"], spec.get("value")
    if not isinstance(key, str):
        raise _bad("expected a string 'key'", f"{param}.key")
    if op in ("in", "nin"):
        if not isinstance(value, list):
            raise _bad(f"'{op}' compares with a list", f"{param}.value")
        choices = list(value)
        if op == "in":
            return lambda attrs: key in attrs and _among(attrs[key], choices)
        return lambda attrs: key not in attrs or not _among(attrs[key], choices)
    if not isinstance(value, str | int | float | bool):
        raise _bad("expected a string, number or boolean", f"{param}.value")
    if op == "eq":
        return lambda attrs: key in attrs and _same(attrs[key], value)
    if op == "ne":
        return lambda attrs: not (key in attrs and _same(attrs[key], value))
    return lambda attrs: key in attrs and _ordered(op, attrs[key], value)


def compile_filter(spec: Any, param: str = "filters") -> Predicate:
    """A predicate over a file's attributes, or a 400 naming what is wrong."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise _bad("expected a comparison or compound filter object", param)
    kind = spec["type"]
    if kind in COMPARISONS:
        return _comparison(spec, param)
    if kind in ("and", "or"):
        parts = spec.get("filters")
        if not isinstance(parts, list) or not parts:
            raise _bad("a compound filter has a non-empty list 'filters'", f"{param}.filters")
        predicates = [compile_filter(p, f"{param}.filters[{i}]") for i, p in enumerate(parts)]
        if kind == "and":
            return lambda attrs: all(p(attrs) for p in predicates)
        return lambda attrs: any(p(attrs) for p in predicates)
    raise _bad(
        f"unknown filter type {kind!r} (expected one of {', '.join(COMPARISONS)}, and, or)", f"{param}.type"
    )
