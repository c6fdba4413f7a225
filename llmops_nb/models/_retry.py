"""When to retry a failed model call, and how long to wait first.

Retried: HTTP 408, 409, 425, 429 and 5xx, timeouts and connection errors — unless the response
says ``x-should-retry: false`` (OpenAI's header; a gateway's spent budget sends it: asking again
before the budget resets only burns attempts).
The wait doubles from ``base_delay`` up to ``max_delay`` with jitter (half
fixed, half random, so a burst of failures does not retry in lockstep). A
``Retry-After`` (or ``retry-after-ms``) header from the server wins: we never
retry sooner than it says, plus a little jitter. A wait longer than
``max_wait`` is not slept: the call fails at once with a message saying so.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

RETRY_STATUSES = frozenset({408, 409, 425, 429})
_CONNECTION_ERRORS = frozenset({"APIConnectionError", "APITimeoutError", "ConnectError", "ReadTimeout",
                                "ConnectTimeout", "RemoteProtocolError", "TimeoutException"})
_rng = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter that honours Retry-After.

    >>> RetryPolicy(base_delay=1.0).delay(0, retry_after=3.0) >= 3.0
    True
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_wait: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return retry_after + _rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return ceiling / 2 + _rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, as far as retrying cares."""

    retryable: bool
    status: int | None
    retry_after: float | None
    timeout: bool
    description: str


def classify(exc: BaseException) -> Failure:
    """Read status, Retry-After and kind from an openai/anthropic SDK (or httpx) exception."""
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    names = {cls.__name__ for cls in type(exc).__mro__}
    timeout = bool(names & {"APITimeoutError", "ReadTimeout", "ConnectTimeout", "TimeoutException", "TimeoutError"})
    connection = bool(names & _CONNECTION_ERRORS)
    retryable = (status in RETRY_STATUSES or status >= 500) if status is not None else (timeout or connection)
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if retryable and headers and str(headers.get("x-should-retry", "")).lower() == "false":
        retryable = False
    retry_after = retry_after_seconds(headers)
    return Failure(retryable, status, retry_after, timeout, _describe(exc, status, timeout))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a response asks us to wait: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except (TypeError, ValueError, OverflowError):
            pass  # a malformed one: the standard header may still say
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _describe(exc: BaseException, status: int | None, timeout: bool) -> str:
    if status == 429:
        message = _server_message(exc)
        return "HTTP 429 (rate limited" + (f": {message})" if message else ")")
    if status is not None:
        message = _server_message(exc)
        return f"HTTP {status}" + (f" ({message})" if message and status < 500 else "")
    if timeout:
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _server_message(exc: BaseException) -> str | None:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        inner = error if isinstance(error, dict) else body
        message = inner.get("message")
        if isinstance(message, str) and message:
            return message[:300]
    return None


def fix_hint(failure: Failure, uri: str, timeout: float) -> str:
    """What the user can change, for the final error message."""
    status = failure.status
    if status == 401:
        return ("The API key was rejected: set the provider's key variable (OPENAI_API_KEY, ANTHROPIC_API_KEY) "
                "or name yours with ?api_key_env=NAME in the model URI.")
    if status == 403:
        return "The key lacks access to this model: check the model name and your account's permissions."
    if status == 404:
        return "No such model or endpoint: check the model name and, for a local server, ?base_url= (ending in /v1)."
    if status in (400, 422):
        return "The server rejected the request: its message names the offending parameter."
    if status == 429 and not failure.retryable:
        return "The server said not to retry (x-should-retry: false): its message says what limit was reached."
    if status == 429:
        return (f"The provider kept rate-limiting: lower max_concurrency (in evaluate() or with "
                f"?max_concurrency= on {uri!r}) or allow more retries (?max_retries=).")
    if failure.timeout:
        return f"Each attempt may take {timeout:g} s; raise it with ?timeout= on the model URI."
    if failure.retryable:
        return "The server kept failing: check that it is up, or allow more retries (?max_retries=)."
    return "This error is not retried."
