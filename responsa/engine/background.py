"""Background responses: a worker pool in every replica, jobs claimed from the database.

    runner = JobRunner(engine, store, workers=4, lease_s=30)
    await runner.start()          # in the app's lifespan
    runner.nudge()                # a job was just queued here: look now
    await runner.stop()           # shutdown: running jobs go back to the queue for another replica

A worker claims the oldest runnable job (queued, or whose lease lapsed because its replica died),
runs the same engine stream as a foreground response, and stores every event in order, so any
replica can stream it from any point (`tail`). The lease is renewed while the job runs; renewal
also brings cancellation requests made on any replica. A job taken over from a dead replica runs
again from the start; its events continue the numbering after the last stored one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from contextlib import aclosing
from typing import Any

from responsa.auth.principal import Principal, current_principal
from responsa.batches import ready_batches
from responsa.context import current_provider_data, current_test_id
from responsa.engine.request import CreateResponseRequest
from responsa.engine.run import TERMINAL_EVENTS, Engine, PreparedRun
from responsa.errors import ResponsaError
from responsa.store.base import Job, Store, StoredResponse
from responsa.types import EventStream

log = logging.getLogger("responsa.background")

FINISHED = frozenset({"completed", "failed", "incomplete", "cancelled"})
IDLE_POLL_S = 0.5


async def tail(store: Store, response_id: str, after: int) -> EventStream:
    """The stored events of a background response after `after`, then the new ones as they come,
    until its terminal event. A response stored as finished may still be missing that event (the
    worker stores the final state, then the event): the tail ends without one only once the job
    is done too, and nothing came after (a job cancelled before it started)."""
    while True:
        batch = await store.events_after(response_id, after)
        for seq, event in batch:
            yield event
            after = seq
            if event["type"] in TERMINAL_EVENTS:
                return
        if not batch:
            status = await store.response_status(response_id)
            if status is None:
                return
            if (
                status in FINISHED
                and not await store.job_active(response_id)
                and not await store.events_after(response_id, after)
            ):
                return
        await store.wait_for_events(response_id, 1.0)


class JobRunner:
    def __init__(self, engine: Engine, store: Store, workers: int, lease_s: float) -> None:
        self.engine = engine
        self.store = store
        self.workers = workers
        self.lease_s = lease_s
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[str, tuple[PreparedRun, asyncio.Task[None]]] = {}
        self._stopping = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(self.workers)]

    def nudge(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Give running jobs back (another replica continues them) and stop the workers."""
        self._stopping = True
        for response_id, (run, task) in list(self._running.items()):
            run.on_abort = "abandon"
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await self.store.release_job(response_id, self.owner)
            log.info("released background response %s for another worker", response_id)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        while not self._stopping:
            try:
                job = await self.store.claim_job(self.owner, self.lease_s)
            except Exception:
                log.exception("could not claim a background job")
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
                continue
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background response %s failed", job.response_id)

    async def _run(self, job: Job) -> None:
        stored = await self.store.get_response(job.response_id)
        if stored is None:  # deleted while queued
            await self.store.finish_job(job.response_id, self.owner)
            return
        try:
            job = self.engine.open_job(job)  # a job sealed under another key fails here, cleanly
            current_test_id.set(job.context.get("test_id"))
            current_provider_data.set(job.context.get("provider_data"))
            principal = Principal(str(job.context.get("owner") or ""), bool(job.context.get("admin")))
            request = CreateResponseRequest.model_validate(job.request)
            run = await self.engine.prepare(
                request, principal=principal, response_id=job.response_id, created_at=stored.created_at
            )
        except ResponsaError as exc:  # e.g. the previous response was deleted meanwhile
            await self._fail_unprepared(stored, exc)
            await self.store.finish_job(job.response_id, self.owner)
            return
        last = await self.store.last_event_seq(job.response_id)  # a taken-over job numbers on
        start = 0 if last is None else last + 1
        await self.store.save_response(run.stored({**run.response, "status": "in_progress"}), existing=True)
        task = asyncio.get_running_loop().create_task(self._stream(run, start))
        self._running[job.response_id] = (run, task)
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(job.response_id, run, task))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            heartbeat.cancel()
            self._running.pop(job.response_id, None)
        if run.on_abort != "abandon":
            await self.store.finish_job(job.response_id, self.owner)

    async def _fail_unprepared(self, stored: StoredResponse, error: ResponsaError) -> None:
        """A job that cannot even start: stored failed, and its stream ends with that too."""
        stored.status = "failed"
        stored.response = {
            **stored.response,
            "status": "failed",
            "error": {"code": "server_error", "message": error.message},
        }
        await self.store.save_response(stored, existing=True)
        last = await self.store.last_event_seq(stored.id)
        event = {
            "type": "response.failed",
            "response": stored.response,
            "sequence_number": 0 if last is None else last + 1,
        }
        await self.store.append_events(stored.id, [event])

    async def _stream(self, run: PreparedRun, start: int) -> None:
        # What one upstream read produced is stored in one transaction, and tailers wake once.
        async with aclosing(ready_batches(self.engine.stream(run, start=start))) as batches:
            async for events in batches:
                await self.store.append_events(run.response["id"], events)

    async def _heartbeat(self, response_id: str, run: PreparedRun, task: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(min(self.lease_s / 3, 1.0))
            state = await self.store.renew_job(response_id, self.owner, self.lease_s)
            if state is None:  # the lease was lost (this replica stalled): someone else runs it now
                run.on_abort = "abandon"
                task.cancel()
                return
            if state:
                run.on_abort = "cancel"
                task.cancel()
                return


def job_context() -> dict[str, Any]:
    """What a job needs of the creating request: its test id, provider data and caller."""
    principal = current_principal.get()
    return {
        "test_id": current_test_id.get(),
        "provider_data": current_provider_data.get(),
        "owner": principal.owner,
        "admin": principal.admin,
    }
