"""The Redis job queue (saq): one job per outbox row, a sweep for rows never queued.

Job keys are `outbox:<message id>:<tries so far>`: enqueuing the same message twice in
the same state makes one job (saq refuses a key it holds), while the follow-up after a
failed try gets a key of its own, scheduled for the row's `next_attempt_at`. The row in
the database stays the source of truth: a job for a row that is sent, failed, not due
or held by another sender does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from saq import CronJob, Queue, Worker
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict

from techtribe.config import Settings
from techtribe.db import create_autocommit_sessionmaker, create_engine
from techtribe.notifications.delivery import Outcome, Sender
from techtribe.notifications.transports import make_transport
from techtribe.redis_client import REDIS_ERRORS, RETRY_SECONDS, Outage, connect

log = logging.getLogger("techtribe.outbox")

SWEEP_LIMIT = 1000
# Tries of a job that raised (the database was down...), not of the e-mail: those are
# counted in the row and scheduled by the job itself.
JOB_RETRIES = 3
# The longest a worker's idle slot waits in Redis for a job (BLMOVE). saq's default, 0, waits
# forever: on SIGTERM saq then waited its whole grace period for idle slots, and warned.
DEQUEUE_SECONDS = 1.0
# The worker's replies from Redis get this much more than REDIS_TIMEOUT_SECONDS: a BLMOVE
# whose reply is given up on may still have moved a job, which then waits in saq's active
# list until its sweep. The worker answers no client, so it can afford to wait.
REPLY_MARGIN_SECONDS = 5.0


class WorkerContext(Context, total=False):
    sender: Sender
    settings: Settings


class OutboxQueue(RedisQueue):
    """saq's Redis queue, patient with a Redis outage on the worker's side.

    saq's worker starts a new dequeue as soon as one fails: with Redis down, that is a busy
    loop of failed connects in every slot. Here a failed dequeue waits a little first, and
    the outage is logged once (and once when Redis answers again).
    """

    def __init__(self, redis: Any, name: str) -> None:
        super().__init__(redis, name=name)
        self._outage = Outage("job worker", "waiting for it; e-mails stay in the outbox")

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Any:  # noqa: ASYNC109 (saq's signature)
        try:
            job = await super().dequeue(timeout, poll_interval)
        except REDIS_ERRORS as exc:
            self._outage.failed(exc)
            await asyncio.sleep(RETRY_SECONDS)
            raise
        self._outage.succeeded()
        return job


def make_queue(settings: Settings, *, blocking_seconds: float = 0.0) -> OutboxQueue:
    """The queue on a Redis client bounded by REDIS_TIMEOUT_SECONDS (plus `blocking_seconds`
    for the worker's blocking dequeue)."""
    assert settings.redis_url, "the job queue needs REDIS_URL"
    return OutboxQueue(
        connect(settings, blocking_seconds=blocking_seconds), name=settings.job_queue_name
    )


def job_key(message_id: uuid.UUID, attempts: int) -> str:
    return f"outbox:{message_id}:{attempts}"


async def enqueue_delivery(
    queue: Queue,
    settings: Settings,
    message_id: uuid.UUID,
    attempts: int,
    *,
    at: datetime | None = None,
) -> bool:
    """Queue "deliver this row"; False if that job is already queued (nothing to do)."""
    job = await queue.enqueue(
        "deliver_outbox_message",
        key=job_key(message_id, attempts),
        message_id=str(message_id),
        # saq's defaults are 10 s and no retries: set both. The job may run as long as
        # the row's lease, never longer, so no second sender can take the row meanwhile.
        timeout=math.floor(settings.email_lease_seconds) or 1,
        retries=JOB_RETRIES,
        retry_delay=settings.email_retry_base_seconds,
        retry_backoff=True,
        scheduled=math.ceil(at.timestamp()) if at else 0,
        ttl=3600,
    )
    return job is not None


class QueueDispatcher:
    """API side with REDIS_URL: after a commit, queue a job per new outbox row."""

    def __init__(self, queue: RedisQueue, settings: Settings) -> None:
        self._queue = queue
        self._settings = settings
        self._outage = Outage("e-mail queue", "new e-mails wait in the outbox for the sweep")

    async def notify(self, message_ids: Iterable[uuid.UUID]) -> None:
        """Queue the committed rows; without Redis, leave them to the worker's sweep.

        Never raises: the rows are committed, and the request that made them has succeeded.
        """
        if not self._outage.should_try():
            return
        for message_id in message_ids:
            try:
                await enqueue_delivery(self._queue, self._settings, message_id, 0)
            except Exception as exc:  # whatever it is, the row waits for the sweep
                self._outage.failed(exc)
                return
        self._outage.succeeded()

    async def aclose(self) -> None:
        # Not `queue.disconnect()`: that unsubscribes a pub/sub channel this side never
        # used, and fails when Redis is down; closing the client is all there is to do.
        with contextlib.suppress(*REDIS_ERRORS):
            await self._queue.redis.aclose()


async def deliver_outbox_message(ctx: WorkerContext, *, message_id: str) -> str:
    """The job: one try at one outbox row; a failed try queues the next one."""
    settings = ctx["settings"]
    result = await ctx["sender"].deliver(uuid.UUID(message_id))
    if result.outcome is Outcome.retry:
        await enqueue_delivery(
            ctx["worker"].queue,
            settings,
            uuid.UUID(message_id),
            result.attempts,
            at=result.next_attempt_at,
        )
    return result.outcome.value


async def sweep_outbox(ctx: WorkerContext) -> int:
    """Queue every row that is pending and due but not queued (e.g. a crash after commit)."""
    settings = ctx["settings"]
    due = await ctx["sender"].due(limit=SWEEP_LIMIT)
    queued = 0
    for message_id, attempts in due:
        queued += await enqueue_delivery(ctx["worker"].queue, settings, message_id, attempts)
    if queued:
        log.info("outbox sweep queued %d pending message(s)", queued)
    return queued


def sweep_cron(seconds: int) -> str:
    """A croniter expression for "every `seconds` seconds" (the sixth field is seconds)."""
    return "* * * * *" if seconds == 60 else f"* * * * * */{seconds}"


class QuietUpkeepDuringOutage(logging.Filter):
    """Drops saq's traceback per upkeep round while Redis is down (several a second): the
    outage is logged once by `OutboxQueue`, and once more when it ends."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (
            record.getMessage().startswith("Upkeep task failed") and isinstance(error, REDIS_ERRORS)
        )


QUIET_UPKEEP = QuietUpkeepDuringOutage()


class OutboxWorker(Worker[WorkerContext]):
    """saq's worker, stopping as soon as the jobs it runs are done.

    saq's `stop` waits, up to its grace period, for every task of the worker to end: the
    jobs, but also the upkeep loops, which sleep up to `worker_info` seconds between rounds
    and hold no work. Those are cancelled at once here, so an idle worker stops within
    DEQUEUE_SECONDS and a busy one when its jobs end (or at the grace period).
    """

    async def stop(self) -> None:
        self.event.set()
        for task in self.tasks:
            if task.get_name() != "process":
                task.cancel()
        await super().stop()


def build_worker(settings: Settings, *, queue: Queue | None = None) -> Worker[Any]:
    """The saq worker of `techtribe worker`: delivery jobs plus the periodic sweep."""
    queue = queue or make_queue(settings, blocking_seconds=DEQUEUE_SECONDS + REPLY_MARGIN_SECONDS)
    logging.getLogger("saq").addFilter(QUIET_UPKEEP)  # once: the same filter isn't added twice
    engine = create_engine(settings)
    transport = make_transport(settings)

    async def startup(ctx: WorkerContext) -> None:
        ctx["settings"] = settings
        ctx["sender"] = Sender(create_autocommit_sessionmaker(engine), transport, settings)
        # Rows left pending while no worker ran go out now, not at the first sweep.
        try:
            await sweep_outbox(ctx)
        except REDIS_ERRORS as exc:
            # Start anyway: the periodic sweep queues them once Redis answers.
            log.warning("could not queue the pending outbox at start (%s)", type(exc).__name__)

    async def shutdown(ctx: WorkerContext) -> None:
        await transport.aclose()
        await engine.dispose()

    # saq's own sweep: jobs of a worker that died are re-queued once past their timeout.
    # (saq's other timers at their defaults; its typing wants all four.)
    timers: PartialTimersDict = {
        "schedule": 1,
        "worker_info": 10,
        "sweep": settings.email_sweep_seconds,
        "abort": 1,
    }
    return OutboxWorker(
        queue,
        functions=[deliver_outbox_message],
        cron_jobs=[
            CronJob(
                sweep_outbox,
                cron=sweep_cron(settings.email_sweep_seconds),
                timeout=max(settings.email_sweep_seconds, 10),
                retries=1,
            )
        ],
        startup=startup,
        shutdown=shutdown,
        concurrency=10,
        timers=timers,
        dequeue_timeout=DEQUEUE_SECONDS,
        # On SIGTERM, jobs in flight may finish for this long; then they are cancelled
        # (saq re-queues them, the outbox row's lease keeps a second send away meanwhile).
        shutdown_grace_period_s=math.ceil(settings.worker_shutdown_timeout_seconds),
    )
