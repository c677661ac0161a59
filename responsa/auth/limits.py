"""Per-owner limits: responses running at once (on this replica) and background jobs queued or
running (across replicas, counted in the database). Beyond them: 429 with `Retry-After`.

    limit = Concurrency(max_per_owner=4)
    with limit.hold(owner):       # TooManyRequests if the owner already runs 4
        ...
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from responsa.errors import TooManyRequests


class Concurrency:
    def __init__(self, max_per_owner: int | None) -> None:
        self.max = max_per_owner
        self.running: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, owner: str) -> Iterator[None]:
        if self.max is None:
            yield
            return
        if self.running[owner] >= self.max:
            raise TooManyRequests(
                f"Too many responses at once: at most {self.max} per owner run together; retry when one ends."
            )
        self.running[owner] += 1
        try:
            yield
        finally:
            self.running[owner] -= 1
            if not self.running[owner]:
                del self.running[owner]
