"""`POST /purchases` costs a bounded number of database round trips, on both lanes.

Counted at the engine: every statement SQLAlchemy sends (a batched INSERT counts once per
batch), plus each BEGIN, COMMIT and ROLLBACK. The e-mail sender is kept out of the count
(its own transactions, after the answer): the receipt's wake-up is caught, and whatever the
embedded sender's task sends meanwhile (its start-up sweep of earlier tests' e-mails) is
not counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.app import DELIVERER_TASK
from techtribe.config import Settings
from tests.catalog import create_course
from tests.conftest import ON_POSTGRES, make_settings
from tests.helpers import member
from tests.purchasing import buy, create_slot

# What this code reaches (see docs/performance.md, "The purchase path").
COURSE_ROUND_TRIPS = 11
# PostgreSQL takes the seat and books it in one statement; SQLite needs two.
COURSE_AND_SEAT_ROUND_TRIPS = 12 if ON_POSTGRES else 13


@pytest.fixture
def settings() -> Settings:
    # No sweep of the outbox during the count; the receipt's own wake-up is caught below.
    return make_settings(outbox_poll_seconds=3600)


def _from_the_sender() -> bool:
    task = asyncio.current_task()
    return task is not None and task.get_name() == DELIVERER_TASK


class RoundTrips:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            return  # SQLite's `BEGIN IMMEDIATE`: counted by `begin`
        self._count(" ".join(statement.split())[:60])

    def begin(self, _conn: Any) -> None:
        self._count("BEGIN")

    def commit(self, _conn: Any) -> None:
        self._count("COMMIT")

    def rollback(self, _conn: Any) -> None:
        self._count("ROLLBACK")

    def _count(self, what: str) -> None:
        if not _from_the_sender():
            self.sent.append(what)


@pytest.fixture
def round_trips(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    queued: list[Any] = []

    async def notify(message_ids: Any) -> None:
        queued.extend(message_ids)

    monkeypatch.setattr(app.state.outbox, "notify", notify)
    counter = RoundTrips()
    engine = app.state.engine.sync_engine
    hooks = {
        "before_cursor_execute": counter.statement,
        "begin": counter.begin,
        "commit": counter.commit,
        "rollback": counter.rollback,
    }
    for name, hook in hooks.items():
        event.listen(engine, name, hook)
    yield counter
    for name, hook in hooks.items():
        event.remove(engine, name, hook)
    assert queued, "the receipt was not queued"


async def test_a_course_purchase_takes_at_most_N_round_trips(
    client: httpx.AsyncClient, db: AsyncSession, round_trips: RoundTrips
) -> None:
    ana, buyer = await member(client, db, role="instructor"), await member(client, db)
    course = await create_course(client, ana)
    round_trips.sent.clear()

    response = await buy(client, buyer, ("course", course["id"]))

    assert response.status_code == 201, response.text
    assert len(round_trips.sent) <= COURSE_ROUND_TRIPS, "\n".join(round_trips.sent)


async def test_a_course_and_seat_purchase_takes_at_most_N_round_trips(
    client: httpx.AsyncClient, db: AsyncSession, round_trips: RoundTrips
) -> None:
    ana, buyer = await member(client, db, role="instructor"), await member(client, db)
    course, slot = await create_course(client, ana), await create_slot(client, ana)
    round_trips.sent.clear()

    response = await buy(client, buyer, ("course", course["id"]), ("advisory", slot["id"]))

    assert response.status_code == 201, response.text
    assert len(round_trips.sent) <= COURSE_AND_SEAT_ROUND_TRIPS, "\n".join(round_trips.sent)
