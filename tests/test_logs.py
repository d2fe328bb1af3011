"""Structured logs: the JSON and text formats, the access line's fields, saq's housekeeping."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import httpx
import pytest

from techtribe.logs import DropColor, SaqHousekeepingToDebug, UTCFormatter, json_formatter
from tests.helpers import API


def record(
    message: str, level: int = logging.INFO, name: str = "x", **extra: object
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, (), None)
    made.__dict__.update(extra)
    return made


def test_json_lines_carry_iso_utc_time_and_no_ansi_colour() -> None:
    line = record("GET / 200", name="uvicorn.error", color_message="\x1b[32mGET\x1b[0m")
    line.correlation_id = "abc"
    DropColor().filter(line)

    text = json_formatter().format(line)

    assert "\x1b" not in text
    body = json.loads(text)
    assert "color_message" not in body
    assert body["level"] == "INFO"
    assert body["name"] == "uvicorn.error"
    assert body["message"] == "GET / 200"
    assert body["request_id"] == "abc"
    assert datetime.fromisoformat(body["time"]).utcoffset() == timedelta(0)


def test_text_lines_carry_iso_utc_time() -> None:
    line = record("hello")
    line.correlation_id = "-"
    formatter = UTCFormatter("%(asctime)s %(message)s")

    stamp = formatter.format(line).split(" ")[0]

    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)


def test_saq_sweeps_are_debug_and_deliveries_stay_info() -> None:
    saq = logging.getLogger("saq")
    demote = SaqHousekeepingToDebug()
    sweep = record("Finished Job<function=sweep_outbox, key=cron:sweep_outbox>", name="saq")
    dead = record("Sweeping missing job abc", name="saq")
    delivery = record("Finished Job<function=deliver_outbox_message>", name="saq")
    level = saq.level
    try:
        saq.setLevel(logging.INFO)
        assert not demote.filter(sweep)
        assert not demote.filter(dead)
        assert demote.filter(delivery)
        assert delivery.levelname == "INFO"
        saq.setLevel(logging.DEBUG)
        assert demote.filter(record("Scheduled ['cron:sweep_outbox']", name="saq"))
    finally:
        saq.setLevel(level)
    assert sweep.levelname == "DEBUG"


async def test_each_request_writes_one_access_line_with_its_fields(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="techtribe.access"):
        response = await client.get(f"{API}/courses?limit=1", headers={"X-Request-ID": "a" * 32})

    assert response.status_code == 200
    lines = [line for line in caplog.records if line.name == "techtribe.access"]
    assert len(lines) == 1
    body = json.loads(json_formatter().format(lines[0]))
    assert body["method"] == "GET"
    assert body["path"] == f"{API}/courses"  # no query string: it may carry tokens
    assert body["status"] == 200
    assert body["duration_ms"] > 0
    assert body["request_id"] == "a" * 32
    assert body["client"].startswith("10.")
