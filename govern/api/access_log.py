"""The access log never records a credential: uvicorn logs each request line with its query string, so the
values of query parameters with credential-like names (`access_token`, `token`, `api_key`, `password`,
`signature`, …) and anything shaped like a govern token are replaced before the line is written.

A logging filter on `uvicorn.access` rather than a custom log config, so it holds however the service is
run (`govern serve`, `--workers`, or uvicorn/gunicorn pointed at `govern.api:create_app`).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "REDACTED"
_SENSITIVE_NAME = re.compile(r"token|secret|passw|pwd|key|auth|sig|credential|session|cookie|bearer", re.IGNORECASE)
_GOVERN_TOKEN = re.compile(r"gov_[A-Za-z0-9_\-]{8,}")
PATH_ARGUMENT = 2
"""Where uvicorn's access record keeps the path and query: (client, method, path?query, http version, status)."""


def redact_target(target: str) -> str:
    """The request target with sensitive query values replaced; the path and the other parameters are kept."""
    path, separator, query = target.partition("?")
    if separator:
        query = "&".join(_redact_pair(pair) for pair in query.split("&"))
    return _GOVERN_TOKEN.sub("gov_" + REDACTED, path + separator + query)


def _redact_pair(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={REDACTED}" if equals and _SENSITIVE_NAME.search(unquote_plus(name)) else pair


class RedactingFilter(logging.Filter):
    """Rewrites the path argument of uvicorn's access records; other records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > PATH_ARGUMENT and isinstance(target := args[PATH_ARGUMENT], str):
            record.args = (*args[:PATH_ARGUMENT], redact_target(target), *args[PATH_ARGUMENT + 1:])
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
        logger.addFilter(RedactingFilter())
