"""Background responses: a worker pool in every replica, jobs claimed from the database.

    runner = JobRunner(engine, store, workers=4, lease_s=30)
    await runner.start()          # in the app's lifespan
    runner.nudge()                # a job was just queued here: look now
    await runner.stop()           # shutdown: running jobs go back to the queue for another replica

A worker claims the oldest runnable job (queued, or whose lease lapsed because its replica died),
runs the same engine stream as a foreground response, and stores every event in order, so any
replica can stream it from any point (`tail`). The lease is renewed while the job runs; renewal
also brings cancellation requests made on any replica.

A job taken over from a dead replica runs again from the start, at most `max_attempts` times in
all (then it fails). Its events continue the stored stream: if the dead worker had streamed no
output yet, the stream simply goes on; if it had, a `responsa:response.restarted` event tells
readers to drop that output, and the new attempt's items take output indices after the old ones
(`events.restarted`), so a reader, the SDK's stream helpers included, folds the stream into
exactly the final response.

Other kinds of job (`Job.kind`, e.g. `ingest`: a file read into a vector store) run the same
way through a `Task` registered for their kind: claimed with a lease, renewed while they run,
taken over from a dead replica (from the start), cancelled on request, failed after
`max_attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from responsa.auth.principal import Principal, current_principal
from responsa.batches import ready_batches
from responsa.context import current_provider_data, current_test_id
from responsa.engine.events import RESTARTED, lifecycle, restarted
from responsa.engine.request import CreateResponseRequest
from responsa.engine.run import TERMINAL_EVENTS, Engine, PreparedRun
from responsa.errors import ResponsaError
from responsa.store.base import Job, Store, StoredResponse
from responsa.types import Event, EventStream, Item

log = logging.getLogger("responsa.background")

FINISHED = frozenset({"completed", "failed", "incomplete", "cancelled"})
IDLE_POLL_S = 0.5
SWEEP_S = 60.0  # how often a replica removes expired job rows and idempotency keys
IDEMPOTENCY_TTL_S = 86400.0
OPENING = frozenset({"response.created", "response.queued", "response.in_progress", RESTARTED})


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


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an attempt starts in a job's stored stream."""

    start: int  # its first sequence number
    opening: list[Event]  # the opening events the stream does not hold yet
    index_offset: int  # the first output index no earlier attempt used (0: none streamed output)

    @classmethod
    def after(cls, stored: list[tuple[int, Event]], response: dict[str, Any], attempt: int) -> Resume:
        start = stored[-1][0] + 1 if stored else 0
        kinds = {event["type"] for _, event in stored}
        opening = [] if "response.in_progress" in kinds else [lifecycle("in_progress", response)]
        if "response.created" not in kinds:
            opening.insert(0, lifecycle("created", response))
        indices = [e["output_index"] for _, e in stored if e["type"] not in OPENING and "output_index" in e]
        if not indices:
            return cls(start, opening, 0)
        offset = max(indices) + 1
        return cls(start, [*opening, *_closing(stored), restarted(response["id"], attempt, offset)], offset)


def _closing(stored: list[tuple[int, Event]]) -> list[Event]:
    """`output_item.done` (status incomplete) for each item a stopped worker left open."""
    opened: dict[int, Item] = {}
    for _, event in stored:
        if event["type"] == "response.output_item.added":
            opened[event["output_index"]] = event["item"]
        elif event["type"] == "response.output_item.done":
            opened.pop(event["output_index"], None)
    return [
        {"type": "response.output_item.done", "output_index": index, "item": {**item, "status": "incomplete"}}
        for index, item in sorted(opened.items())
    ]


class Task(Protocol):
    """A job kind other than responses: `run` does the work (cancelled when the job's
    cancellation is requested); `fail` records that it could not (it raised, or its workers kept
    dying)."""

    async def run(self, job: Job) -> None: ...

    async def fail(self, job: Job, message: str) -> None: ...


class JobRunner:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        workers: int,
        lease_s: float,
        *,
        max_attempts: int = 3,
        retention_s: float = 86400.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.workers = workers
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.retention_s = retention_s
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[str, tuple[PreparedRun, asyncio.Task[None]]] = {}
        self._other: dict[str, asyncio.Task[None]] = {}  # running jobs of other kinds
        self._kinds: dict[str, Task] = {}
        self._stopping = False

    def register(self, kind: str, task: Task) -> None:
        self._kinds[kind] = task

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(self.workers)]
        self._tasks.append(loop.create_task(self._sweep()))

    @property
    def running(self) -> int:
        """Background responses running on this server now."""
        return len(self._running)

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
        for key, other in list(self._other.items()):
            other.cancel()
            with contextlib.suppress(BaseException):
                await other
            await self.store.release_job(key, self.owner)
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

    async def _sweep(self) -> None:
        """Remove finished jobs' rows after the retention, and expired idempotency keys."""
        while not self._stopping:
            try:
                now = time.time()
                await self.store.remove_finished_jobs(now - self.retention_s)
                await self.store.remove_expired_keys(now - IDEMPOTENCY_TTL_S)
            except Exception:
                log.exception("could not remove expired job rows")
            await asyncio.sleep(min(SWEEP_S, max(self.retention_s / 2, IDLE_POLL_S)))

    async def _run(self, job: Job) -> None:
        if job.kind != "response":
            await self._run_task(job)
            return
        stored = await self.store.get_response(job.response_id)
        if stored is None:  # deleted while queued
            await self.store.finish_job(job.response_id, self.owner)
            return
        if job.attempts > self.max_attempts:
            await self._give_up(job, stored)
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
        resume = Resume.after(await self.store.events_after(job.response_id, -1), run.response, job.attempts)
        if resume.index_offset:
            log.warning("background response %s runs again (attempt %d)", job.response_id, job.attempts)
        await self.store.save_response(run.stored({**run.response, "status": "in_progress"}), existing=True)
        task = asyncio.get_running_loop().create_task(self._stream(run, resume))
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

    async def _run_task(self, job: Job) -> None:
        """A job of another kind, under its lease; settled as failed if it raises or kept dying."""
        task = self._kinds.get(job.kind)
        if task is None:
            log.error("no worker for background jobs of kind %r (%s)", job.kind, job.response_id)
            return  # its lease lapses: a replica that knows the kind takes it
        key = job.response_id
        if job.attempts > self.max_attempts:
            tries = job.attempts - 1
            await task.fail(job, f"The job was started {tries} times and its worker stopped each time.")
            await self.store.finish_job(key, self.owner)
            return
        work = asyncio.get_running_loop().create_task(task.run(job))
        self._other[key] = work
        heartbeat = asyncio.get_running_loop().create_task(self._keep_lease(key, work))
        abandoned = False
        try:
            await work
        except asyncio.CancelledError:
            abandoned = heartbeat.done() and heartbeat.result() == "lost"
            if self._stopping:
                raise
        except Exception as exc:
            log.exception("background job %s failed", key)
            await task.fail(job, f"The job failed: {type(exc).__name__}.")
        finally:
            heartbeat.cancel()
            self._other.pop(key, None)
        if not abandoned:
            await self.store.finish_job(key, self.owner)

    async def _keep_lease(self, key: str, work: asyncio.Task[None]) -> str:
        while True:
            await asyncio.sleep(min(self.lease_s / 3, 1.0))
            state = await self.store.renew_job(key, self.owner, self.lease_s)
            if state is None or state:
                work.cancel()
                return "lost" if state is None else "cancelled"

    async def _give_up(self, job: Job, stored: StoredResponse) -> None:
        """A job whose workers kept dying: failed, with a last event so its readers stop too."""
        tries = job.attempts - 1
        log.error("background response %s failed: its worker stopped %d times", job.response_id, tries)
        await self._fail_stored(
            stored,
            f"The background response was started {tries} times and its worker stopped each time "
            "before it finished; it is not tried again.",
        )
        await self.store.finish_job(job.response_id, self.owner)

    async def _fail_unprepared(self, stored: StoredResponse, error: ResponsaError) -> None:
        """A job that cannot even start: stored failed, and its stream ends with that too."""
        await self._fail_stored(stored, error.message)

    async def _fail_stored(self, stored: StoredResponse, message: str) -> None:
        stored.status = "failed"
        stored.response = {
            **stored.response,
            "status": "failed",
            "output": [],
            "error": {"code": "server_error", "message": message},
        }
        await self.store.save_response(stored, existing=True)
        last = await self.store.last_event_seq(stored.id)
        event = {**lifecycle("failed", stored.response), "sequence_number": 0 if last is None else last + 1}
        await self.store.append_events(stored.id, [event])

    async def _stream(self, run: PreparedRun, resume: Resume) -> None:
        # What one upstream read produced is stored in one transaction, and tailers wake once.
        stream = self.engine.stream(run, resume.start, resume.opening, resume.index_offset)
        async with aclosing(ready_batches(stream)) as batches:
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
