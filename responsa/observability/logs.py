"""Logging setup: text lines, or one JSON object per line for log shippers.

    configure_logging("info", "json")

Every line is one record; in JSON the record's structured fields (`extra={"fields": {...}}`, as
the access line passes them) sit beside `ts`, `level`, `logger` and `message`. Credentials and
prompts are never logged at INFO: the access line names the route, the status, the response id,
the model and the user agent only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The HTTP clients log one line per upstream request; Alembic one per plugin at every start.
QUIET = ("httpx", "httpx2", "httpcore", "httpcore2", "alembic.runtime.plugins")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Log at `level` to stderr, in `fmt`; the HTTP clients' per-request lines at WARNING and up.
    Uvicorn's loggers propagate here (it is started with `log_config=None`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
