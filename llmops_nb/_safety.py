"""Internal failures are logged once and never reach the user's code.

Tracing must not change the program it observes: every piece of our code that
runs inside a user's call goes through :func:`log_once` when it fails, so the
user sees one warning per kind of failure instead of a flood, and their call
proceeds unchanged.
"""

from __future__ import annotations

import logging
import threading
import traceback

from ._redact import redact_text

logger = logging.getLogger("llmops_nb")

_seen: set[str] = set()
_seen_lock = threading.Lock()
failure_counts: dict[str, int] = {}


def log_once(key: str, exc: BaseException | None = None, message: str = "") -> None:
    """Log an internal failure the first time ``key`` fails; count every time."""
    try:
        with _seen_lock:
            failure_counts[key] = failure_counts.get(key, 0) + 1
            first = key not in _seen
            _seen.add(key)
        if first:
            text = message or f"llmops_nb: internal failure in {key}; your code continues untraced here"
            cause = f"{type(exc).__name__}: {exc}" if exc is not None else "no exception"
            if exc is not None and logger.isEnabledFor(logging.DEBUG):
                cause += "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            # An exception's text may echo a URL with ?api-key=…: logs get the same redaction as the store.
            logger.warning(
                "%s%s. Further failures of this kind are counted, not logged: see llmops_nb.status().",
                redact_text(text).rstrip("."),
                f" ({redact_text(cause)})" if exc is not None else "",
            )
    except Exception:  # noqa: BLE001 - logging itself must never break the caller
        pass
