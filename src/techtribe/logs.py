"""Structured logs: JSON lines in production, readable text on a laptop; request ids in both."""

from __future__ import annotations

import logging.config
from typing import Any

from techtribe.config import Settings


def setup_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `dictConfig` dict; uvicorn applies it in every worker process too."""
    formatter: dict[str, Any]
    if settings.json_logs:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "correlation_id": "request_id",
            },
        }
    else:
        formatter = {
            "format": "%(asctime)s %(levelname)-7s [%(correlation_id)s] %(name)s: %(message)s",
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "correlation_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "uuid_length": 36,
                "default_value": "-",
            }
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["correlation_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": settings.log_level.upper()},
        "loggers": {
            "uvicorn": {
                "handlers": ["default"],
                "level": settings.log_level.upper(),
                "propagate": False,
            },
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": settings.log_level.upper()},
        },
    }
