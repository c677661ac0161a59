"""Background jobs and response events on SQLAlchemy (mixed into `SqlStore`).

Jobs are claimed with a lease: an UPDATE takes the oldest job that is queued or whose lease
lapsed (its worker died), `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas never wait on each
other. The holder renews the lease while it runs; renewal also carries cancellation requests.
Events of background responses are stored in order, so a stream can be resumed from any replica;
on PostgreSQL each append NOTIFYs tailers, on SQLite they poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import case, delete, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from responsa.store.base import Job, JobRow, StoredResponse
from responsa.store.database import Database
from responsa.store.tables import background_jobs, response_events, responses

log = logging.getLogger("responsa.store")

CHANNEL = "responsa_events"
JOBS_SCANNED = 2000  # the jobs read to find one owner's (the newest, queued and running first)
POLL_S = 0.05


class SqlJobs:
    db: Database
    _waiters: dict[str, set[asyncio.Event]]
    _listener: AsyncConnection | None

    def _init_jobs(self) -> None:
        self._waiters = defaultdict(set)
        self._listener = None

    def _save_in(self, conn: Connection, stored: StoredResponse) -> None:
        raise NotImplementedError  # provided by SqlStore

    async def enqueue(self, stored: StoredResponse, job: Job, events: list[dict[str, Any]]) -> None:
        def insert(conn: Connection) -> None:
            self._save_in(conn, stored)
            conn.execute(
                background_jobs.insert().values(
                    response_id=job.response_id,
                    created_at=time.time(),
                    request=orjson.dumps(job.request).decode(),
                    context=orjson.dumps(job.context).decode(),
                    state="queued",
                    cancel_requested=False,
                    attempts=0,
                )
            )
            self._append_in(conn, job.response_id, events)

        await self.db.write(insert)
        self._wake(job.response_id)

    async def list_jobs(self, *, limit: int, owner: str | None = None) -> list[JobRow]:
        """Read the jobs first, then their responses by id: the jobs table is small (finished
        rows are removed), the responses table may be very large."""
        j, r = background_jobs.c, responses.c
        jobs = (
            select(
                j.response_id, j.state, j.owner, j.created_at, j.attempts, j.cancel_requested, j.finished_at
            )
            .where(j.kind == "response")
            .order_by(case((j.state == "done", 1), else_=0), j.created_at.desc())
            .limit(limit if owner is None else max(limit, JOBS_SCANNED))
        )

        def rows(conn: Connection) -> list[JobRow]:
            found = conn.execute(jobs).all()
            ids = [row.response_id for row in found]
            made = {
                row.id: row
                for start in range(0, len(ids), 500)
                for row in conn.execute(
                    select(r.id, r.model, r.status, r.owner).where(r.id.in_(ids[start : start + 500]))
                )
            }
            listed = []
            for job in found:
                response = made.get(job.response_id)
                if response is None or (owner is not None and response.owner != owner):
                    continue
                listed.append(
                    JobRow(
                        job.response_id,
                        job.state,
                        job.owner,
                        job.created_at,
                        job.attempts,
                        bool(job.cancel_requested),
                        job.finished_at,
                        response.model,
                        response.status,
                    )
                )
            return listed[:limit]

        return await self.db.read(rows)

    async def active_jobs(self, owner: str) -> int:
        c = background_jobs.c
        query = (
            select(func.count())
            .select_from(background_jobs.join(responses, responses.c.id == c.response_id))
            .where(c.state != "done", responses.c.owner == owner)
        )
        return await self.db.read(lambda conn: int(conn.scalar(query) or 0))

    async def queued_jobs(self) -> int:
        query = select(func.count()).select_from(background_jobs).where(background_jobs.c.state == "queued")
        return await self.db.read(lambda conn: int(conn.scalar(query) or 0))

    async def claim_job(self, owner: str, lease_s: float) -> Job | None:
        c = background_jobs.c
        now = time.time()
        free = or_(c.owner.is_(None), c.lease_expires_at < now)
        # A read first: idle polling takes no write lock.
        if (
            await self.db.read(
                lambda conn: conn.scalar(select(c.response_id).where(c.state != "done", free).limit(1))
            )
            is None
        ):
            return None
        pick = select(c.response_id).where(c.state != "done", free).order_by(c.created_at).limit(1)
        if self.db.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        statement = (
            update(background_jobs)
            .where(c.response_id == pick.scalar_subquery(), free)
            .values(owner=owner, lease_expires_at=now + lease_s, state="running", attempts=c.attempts + 1)
            .returning(c.response_id, c.request, c.context, c.attempts, c.kind)
        )
        row = await self.db.write(lambda conn: conn.execute(statement).first())
        if row is None:
            return None
        request, context = orjson.loads(row.request), orjson.loads(row.context)
        return Job(row.response_id, request, context, row.attempts, row.kind)

    async def renew_job(self, response_id: str, owner: str, lease_s: float) -> bool | None:
        c = background_jobs.c
        statement = (
            update(background_jobs)
            .where(c.response_id == response_id, c.owner == owner, c.state == "running")
            .values(lease_expires_at=time.time() + lease_s)
            .returning(c.cancel_requested)
        )
        row = await self.db.write(lambda conn: conn.execute(statement).first())
        return None if row is None else bool(row.cancel_requested)

    async def job_active(self, response_id: str) -> bool:
        c = background_jobs.c
        query = select(c.state).where(c.response_id == response_id)
        state = await self.db.read(lambda conn: conn.scalar(query))
        return state is not None and state != "done"

    async def finish_job(self, response_id: str, owner: str) -> None:
        # A finished job keeps no request: the credentials it carried are gone with it.
        await self._set_job_state(
            response_id, owner, "done", {"request": "{}", "context": "{}", "finished_at": time.time()}
        )

    async def release_job(self, response_id: str, owner: str) -> None:
        # Handed back by a replica shutting down: not an attempt that failed.
        await self._set_job_state(response_id, owner, "queued", {"attempts": background_jobs.c.attempts - 1})

    async def _set_job_state(
        self, response_id: str, owner: str, state: str, values: dict[str, Any] | None = None
    ) -> None:
        c = background_jobs.c
        statement = (
            update(background_jobs)
            .where(c.response_id == response_id, c.owner == owner)
            .values(state=state, owner=None, lease_expires_at=None, **(values or {}))
        )
        await self.db.write(lambda conn: conn.execute(statement))

    async def remove_finished_jobs(self, before: float) -> int:
        c = background_jobs.c
        statement = delete(background_jobs).where(c.state == "done", c.finished_at < before)
        return await self.db.write(lambda conn: int(conn.execute(statement).rowcount or 0))

    async def request_cancel(self, response_id: str) -> bool:
        c = background_jobs.c

        def cancel(conn: Connection) -> bool:
            unstarted = conn.execute(
                update(background_jobs)
                .where(c.response_id == response_id, c.state == "queued", c.owner.is_(None), c.attempts == 0)
                .values(
                    state="done", cancel_requested=True, request="{}", context="{}", finished_at=time.time()
                )
            )
            if unstarted.rowcount:
                return False
            conn.execute(
                update(background_jobs)
                .where(c.response_id == response_id, c.state != "done")
                .values(cancel_requested=True)
            )
            return True

        return await self.db.write(cancel)

    def _append_in(self, conn: Connection, response_id: str, events: list[dict[str, Any]]) -> None:
        if (
            conn.scalar(select(background_jobs.c.state).where(background_jobs.c.response_id == response_id))
            is None
        ):
            return  # the response (and its job) was deleted: its events go with it
        rows = [
            {"response_id": response_id, "seq": e["sequence_number"], "event": orjson.dumps(e).decode()}
            for e in events
        ]
        conn.execute(response_events.insert(), rows)
        if self.db.dialect == "postgresql":  # delivered to every listener when this transaction commits
            conn.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": response_id})

    async def append_events(self, response_id: str, events: list[dict[str, Any]]) -> None:
        await self.db.write(self._append_in, response_id, events)
        self._wake(response_id)

    async def events_after(self, response_id: str, after: int) -> list[tuple[int, dict[str, Any]]]:
        c = response_events.c
        query = select(c.seq, c.event).where(c.response_id == response_id, c.seq > after).order_by(c.seq)
        rows = await self.db.read(lambda conn: conn.execute(query).all())
        return [(row.seq, orjson.loads(row.event)) for row in rows]

    async def last_event_seq(self, response_id: str) -> int | None:
        c = response_events.c
        query = select(func.max(c.seq)).where(c.response_id == response_id)
        seq: int | None = await self.db.read(lambda conn: conn.scalar(query))
        return seq

    def _wake(self, response_id: str) -> None:
        for waiter in self._waiters.get(response_id, ()):
            waiter.set()

    async def _listen(self) -> None:
        if self._listener is not None or self.db.async_engine is None:
            return
        conn = await self.db.async_engine.connect()
        raw = await conn.get_raw_connection()
        loop = asyncio.get_running_loop()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            loop.call_soon_threadsafe(self._wake, payload)

        await raw.driver_connection.add_listener(CHANNEL, on_notify)  # type: ignore[union-attr]
        self._listener = conn

    async def wait_for_events(self, response_id: str, timeout: float) -> None:
        if self.db.dialect == "postgresql":
            await self._listen()
        else:
            timeout = min(timeout, POLL_S)  # SQLite has no notifications: poll
        waiter = asyncio.Event()
        self._waiters[response_id].add(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters[response_id].discard(waiter)
            if not self._waiters[response_id]:
                del self._waiters[response_id]

    async def _close_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
