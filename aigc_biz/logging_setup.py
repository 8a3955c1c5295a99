"""Log set-up for the command line and batch jobs: readable lines for people, JSON lines for collectors.

The library only logs through ``logging.getLogger(__name__)`` loggers under ``aigc_biz``; handlers are
attached here, at the edge (the CLI), never on import.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from aigc_biz.json_safe import json_safe
from aigc_biz.redaction import redact

#: attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then every
    field passed with ``extra=`` (e.g. ``step``, ``seconds``, ``run_id``) and ``error`` for exceptions.
    Every string has its URLs masked and secret values blanked (:func:`aigc_biz.redaction.redact`).

    Example
    -------
    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonLogFormatter())
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(_redacted(json_safe(entry)), ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """The plain ``time level logger: message`` line, with URLs masked and secret values blanked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _redacted(value):
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return redact(value) if isinstance(value, str) else value


def configure_logging(
    *, json_lines: bool = False, quiet: bool = False, level: int | str | None = None, stream=None
) -> logging.Handler:
    """Send ``aigc_biz`` log records to ``stream`` (default stderr), as JSON lines or plain text.

    ``quiet`` shows warnings and errors only. Calling it again replaces the handler it added before.
    Returns the handler.
    """
    logger = logging.getLogger("aigc_biz")
    for old in [h for h in logger.handlers if getattr(h, "_aigc_biz_handler", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._aigc_biz_handler = True
    handler.setFormatter(
        JsonLogFormatter()
        if json_lines
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    logger.addHandler(handler)
    logger.setLevel(level if level is not None else (logging.WARNING if quiet else logging.INFO))
    return handler
