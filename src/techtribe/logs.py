"""Structured logs: JSON lines in production, readable text on a laptop; request ids in both.

Every line has an ISO 8601 UTC time. Each HTTP request gets one access line (logger
`techtribe.access`) with `method`, `path`, `status`, `duration_ms`, `request_id` and
`client` fields, written by `log_access` once `middleware.RequestOutcome` has timed the
request; uvicorn's own access line (one string, no duration) is off.
"""

from __future__ import annotations

import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from asgi_correlation_id import correlation_id
from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.types import Scope

from techtribe.config import Settings

access_log = logging.getLogger("techtribe.access")


def setup_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


def gather_only_what_lines_show() -> None:
    """Records stop gathering what none of our formats shows: the calling source line (a
    walk up the stack), the thread, the process (the logging HOWTO's "Optimization").
    For the served process, which writes an access line per request."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def json_formatter() -> OrjsonFormatter:
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, request id,
    and the record's extra fields (the access line's). Encoded by orjson: the access line is
    written on every request."""
    return OrjsonFormatter(
        "%(levelname)s %(name)s %(message)s %(correlation_id)s",
        rename_fields={"levelname": "level", "correlation_id": "request_id"},
        timestamp="time",
    )


class UTCFormatter(logging.Formatter):
    """The text format, with ISO 8601 UTC times instead of local ones."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DropColor(logging.Filter):
    """uvicorn adds a `color_message` extra with ANSI codes: never in our lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


class SaqHousekeepingToDebug(logging.Filter):
    """saq logs its cron sweep (enqueue, process, finish: every EMAIL_SWEEP_SECONDS) and its
    sweeps of dead workers' jobs at INFO: demoted to DEBUG, so INFO shows the e-mails."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and "sweep" in record.getMessage().lower():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("saq").isEnabledFor(logging.DEBUG)
        return True


def log_access(scope: Scope, status: int, seconds: float) -> None:
    """The access line of an HTTP request whose response was sent (`RequestOutcome`)."""
    if access_log.isEnabledFor(logging.INFO):
        client = scope.get("client")
        method, path = scope["method"], scope["path"]
        duration_ms = round(seconds * 1000, 2)
        # The path only: query strings can carry tokens (e-mail links).
        access_log.info(
            "%s %s %d %.2fms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
                # Also set by the filter from the context; here for loggers without it.
                "correlation_id": correlation_id.get() or "-",
            },
        )


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `dictConfig` dict; uvicorn applies it in every worker process too."""
    formatter: dict[str, Any]
    if settings.json_logs:
        formatter = {"()": "techtribe.logs.json_formatter"}
    else:
        formatter = {
            "()": "techtribe.logs.UTCFormatter",
            "format": "%(asctime)s %(levelname)-7s [%(correlation_id)s] %(name)s: %(message)s",
        }
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "correlation_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "uuid_length": 36,
                "default_value": "-",
            },
            "drop_color": {"()": "techtribe.logs.DropColor"},
            "saq_housekeeping": {"()": "techtribe.logs.SaqHousekeepingToDebug"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["correlation_id", "drop_color"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            # Replaced by techtribe.access (fields, duration); its errors still show.
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": level},
            "techtribe.access": {"level": "INFO"},
            "saq": {"filters": ["saq_housekeeping"]},
        },
    }
