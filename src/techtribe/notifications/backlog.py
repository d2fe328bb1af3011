"""The outbox backlog as metrics, read from the database when Prometheus scrapes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.db import utcnow
from techtribe.notifications.models import OutboxMessage

log = logging.getLogger("techtribe.outbox")

# A scrape must answer even while the database doesn't: then these gauges are left out.
SCRAPE_TIMEOUT_SECONDS = 2.0


async def backlog_metrics(sessionmaker: async_sessionmaker[AsyncSession]) -> Sequence[Metric]:
    """`techtribe_outbox_pending_messages` and the age of the oldest one.

    One query per scrape (not per request), on the `(status, next_attempt_at)` index: it
    reads only the pending rows, which are few while the worker keeps up.
    """
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS), sessionmaker() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == "pending"
                    )
                )
            ).one()
    except Exception as exc:  # the API's metrics must still answer
        log.warning("outbox backlog not read for /metrics: %s", type(exc).__name__)
        return []
    pending, oldest = row
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite's aggregate skips the column type's conversion
            oldest = oldest.replace(tzinfo=utcnow().tzinfo)
        age = max((utcnow() - oldest).total_seconds(), 0.0)
    return [
        GaugeMetricFamily(
            "techtribe_outbox_pending_messages",
            "E-mails waiting in the outbox (due or scheduled for a retry).",
            value=pending,
        ),
        GaugeMetricFamily(
            "techtribe_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending e-mail, 0 when none waits.",
            value=age,
        ),
    ]
