"""`item_reference` input items: `{"type": "item_reference", "id": "msg_..."}` stands for an item
Responsa stored earlier (an input or output item of a stored response, or a conversation item).
The Vercel AI SDK sends earlier assistant and tool items this way whenever `store` is on.

References are resolved before anything else reads the input, so every other step sees the
items themselves: first among the items this request already has at hand (the previous
response's, the conversation's), then in the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from responsa.engine.items.base import check_item_id
from responsa.errors import InvalidRequest
from responsa.store.base import Store
from responsa.types import Item

KIND = "item_reference"


def has_references(input: str | list[Item]) -> bool:
    if isinstance(input, str):
        return False
    return any(item.get("type") == KIND for item in input)


async def resolve(
    input: str | list[Item], store: Store, known: Iterable[Item] = (), owner: str | None = None
) -> str | list[Item]:
    """The input with every reference replaced by its item; another owner's item is unknown."""
    if isinstance(input, str) or not has_references(input):
        return input
    wanted: list[str] = []
    for i, item in enumerate(input):
        if item.get("type") == KIND:
            ref = item.get("id")
            if not isinstance(ref, str) or not ref:
                raise InvalidRequest(f"Missing required parameter: 'input[{i}].id'.", param=f"input[{i}].id")
            check_item_id(item, f"input[{i}]")
            wanted.append(ref)
    found = {item["id"]: item for item in known if isinstance(item.get("id"), str) and item["id"] in wanted}
    missing = [ref for ref in wanted if ref not in found]
    if missing:
        found.update(await store.find_items(missing, owner))
    resolved: list[Item] = []
    for i, item in enumerate(input):
        if item.get("type") != KIND:
            resolved.append(item)
            continue
        target = found.get(item["id"])
        if target is None:
            raise InvalidRequest(
                f"Invalid value for 'input[{i}].id': no stored item has the id '{item['id']}'.",
                param=f"input[{i}].id",
                code="item_not_found",
            )
        resolved.append(target)
    return resolved
