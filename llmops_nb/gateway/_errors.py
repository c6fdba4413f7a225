"""The gateway's errors: each one knows its HTTP status and how to say itself to an OpenAI or Anthropic client.

The server and the in-kernel transport turn a raised :class:`GatewayError` into a response with its
``status``, its ``headers`` and ``openai_body()`` (chat, embeddings) or ``anthropic_body()``
(messages), so the client's own SDK raises its usual exception (``openai.RateLimitError`` for a 429,
``anthropic.NotFoundError`` for a 404 …) with our message in it::

    LlmopsError
    └── GatewayError                       500 "gateway_error"
        ├── GatewayConfigError(ValueError) a bad config: the entry, its line, the fix
        ├── GatewayAuthError               401 missing or unknown key
        ├── GatewayForbiddenError          403 the key may not do this (model not allowed, revoked)
        ├── GatewayRequestTooLarge         413 the body is over general_settings.max_request_bytes
        ├── BudgetExceededError            429 a budget would be passed (scope, id, window, resets_at)
        ├── GatewayRateLimitError          429 an rpm or tpm limit is reached (Retry-After)
        ├── NoDeploymentError              503 every deployment failed or is cooling down (the attempts)
        ├── UnknownModelError(LookupError) 404 no model_name like that ("did you mean")
        └── UpstreamError                  the upstream's final error passed on: its status, its message

Messages never hold a key: the ones we write name references (``os.environ/NAME``), never values,
and an upstream's message goes through the secret redaction before it is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from .._errors import LlmopsError, did_you_mean
from .._format import cost
from .._redact import redact_text

if TYPE_CHECKING:
    from ._types import UpstreamFailure

__all__ = [
    "BudgetExceededError", "GatewayAuthError", "GatewayConfigError", "GatewayError", "GatewayForbiddenError",
    "GatewayRateLimitError", "GatewayRequestTooLarge", "NoDeploymentError", "UnknownModelError", "UpstreamError",
]

# Anthropic's SDK picks its exception class by status, but its error body names a type; these are the
# ones its API sends for each status.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error",
}


def _anthropic_type(status: int) -> str:
    if status in _ANTHROPIC_TYPES:
        return _ANTHROPIC_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


_NEVER_YEAR = 9999  # a budget without a window "resets" at the end of time (see _budgets._NEVER)


def iso_utc(moment: datetime) -> str:
    """``2026-12-07T00:00:00Z``: a moment in UTC, to the second (a naive datetime is taken as UTC)."""
    utc = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return utc.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry_after_header(seconds: float) -> str:
    # Whole seconds (RFC 9110), never 0: a client told "retry in 0 s" retries at once and is refused again.
    return str(max(1, math.ceil(seconds)))


class GatewayError(LlmopsError):
    """An error the gateway answers with: ``status``, ``error_type``, ``code``, ``headers`` and the two bodies.

    >>> GatewayError("boom").openai_body()["error"]["type"]
    'gateway_error'
    """

    status: int = 500
    error_type: str = "gateway_error"
    code: str | None = "gateway_error"

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None,
                 code: str | None = None, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        #: more fields of the OpenAI error body (a budget's scope and window …), beside message/type/code
        self.extra: dict[str, Any] = dict(extra or {})

    def openai_body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "code", "param", ...extra}}``, as OpenAI's API answers errors."""
        return {"error": {"message": self.message, "type": self.error_type, "code": self.code, "param": None,
                          **self.extra}}

    def anthropic_body(self) -> dict[str, Any]:
        """``{"type": "error", "error": {"type", "message"}}``, as Anthropic's API answers errors."""
        return {"type": "error", "error": {"type": _anthropic_type(self.status), "message": self.message}}


class GatewayConfigError(GatewayError, ValueError):
    """A config that cannot be used as written; the message names the entry, its line (YAML) and the fix."""

    error_type = "gateway_error"
    code = "config_error"


class GatewayAuthError(GatewayError):
    """401: the request carries no key, or one the gateway does not know."""

    status = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class GatewayForbiddenError(GatewayError):
    """403: the key is known but may not do this (``code``: "model_not_allowed", "key_revoked" …)."""

    status = 403
    error_type = "permission_error"
    code = "forbidden"


class GatewayRequestTooLarge(GatewayError):  # noqa: N818 - the name the design gives it, after HTTP 413's
    """413: the request body is larger than ``general_settings.max_request_bytes``."""

    status = 413
    error_type = "invalid_request_error"
    code = "request_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request body has {size:,} bytes, over this gateway's limit of {limit:,} "
                         f"(general_settings.max_request_bytes); send less, or raise the limit in the config",
                         extra={"size": size, "limit": limit})
        self.size, self.limit = size, limit


class BudgetExceededError(GatewayError):
    """429: this request's reserved cost would take a budget past its ``max_budget`` in the current window.

    ``x-should-retry: false`` tells the OpenAI and Anthropic SDKs not to retry: nothing changes until
    ``resets_at``.

    >>> from datetime import datetime, timezone
    >>> BudgetExceededError("team", "ml", max_budget=5.0, spent=4.98, reserved=0.04, window="daily",
    ...                     resets_at=datetime(2026, 12, 7, tzinfo=timezone.utc)).message[:42]
    "budget exceeded for team 'ml': spent $4.98"
    """

    status = 429
    error_type = "budget_exceeded"
    code = "budget_exceeded"

    def __init__(self, scope: str, scope_id: str, *, max_budget: float, spent: float, window: str,
                 resets_at: datetime, reserved: float = 0.0) -> None:
        resets = iso_utc(resets_at)
        if reserved > 0:
            how = f"spent {cost(spent)} + this request's reserved {cost(reserved)} would pass"
        else:
            how = f"spent {cost(spent)} has reached"
        when = "it never resets (a budget without budget_duration)" if resets_at.year >= _NEVER_YEAR \
            else f"it resets at {resets}"
        super().__init__(
            f"budget exceeded for {scope} {scope_id!r}: {how} the {window} budget of {cost(max_budget)}; {when}",
            headers={"x-should-retry": "false"},
            extra={"scope": scope, "scope_id": scope_id, "max_budget": max_budget, "spent": spent,
                   "reserved": reserved, "window": window, "resets_at": resets})
        self.scope, self.scope_id, self.window = scope, scope_id, window
        self.max_budget, self.spent, self.reserved = max_budget, spent, reserved
        self.resets_at = resets_at


class GatewayRateLimitError(GatewayError):
    """429: a requests-per-minute or tokens-per-minute limit is reached; ``Retry-After`` says when to retry.

    ``retry_after`` defaults to the seconds from now until ``resets_at``.
    """

    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, scope: str, scope_id: str, *, limit_name: Literal["rpm", "tpm"], limit: int,
                 resets_at: datetime, retry_after: float | None = None) -> None:
        if retry_after is None:
            utc = resets_at.replace(tzinfo=timezone.utc) if resets_at.tzinfo is None else resets_at
            retry_after = max(0.0, (utc - datetime.now(timezone.utc)).total_seconds())
        unit = "requests" if limit_name == "rpm" else "tokens"
        resets = iso_utc(resets_at)
        super().__init__(
            f"rate limit exceeded for {scope} {scope_id!r}: {limit:,} {unit} per minute ({limit_name}); "
            f"retry after {_retry_after_header(retry_after)} s ({resets})",
            headers={"Retry-After": _retry_after_header(retry_after)},
            extra={"scope": scope, "scope_id": scope_id, "limit_name": limit_name, "limit": limit,
                   "resets_at": resets, "retry_after": retry_after})
        self.scope, self.scope_id, self.limit_name, self.limit = scope, scope_id, limit_name, limit
        self.resets_at, self.retry_after = resets_at, retry_after


class NoDeploymentError(GatewayError):
    """503: no deployment of the model group could answer. ``attempts`` lists (deployment id, reason).

    ``retry_after`` (seconds until the first deployment is back) is given when every one is cooling
    down; it becomes the ``Retry-After`` header.
    """

    status = 503
    error_type = "service_unavailable"
    code = "no_deployment_available"

    def __init__(self, model_name: str, attempts: Sequence[tuple[str, str]], *,
                 retry_after: float | None = None) -> None:
        self.model_name = model_name
        self.attempts = [(str(deployment), redact_text(str(reason))) for deployment, reason in attempts]
        self.retry_after = retry_after
        if self.attempts:
            tried = "; ".join(f"{deployment}: {reason}" for deployment, reason in self.attempts)
            message = f"no deployment of {model_name!r} could answer ({tried})"
        else:
            message = f"model {model_name!r} has no deployment available"
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = _retry_after_header(retry_after)
            message += f"; all are cooling down, the first is back in {headers['Retry-After']} s"
        super().__init__(message, headers=headers, extra={
            "model": model_name, "attempts": [{"deployment": d, "reason": r} for d, r in self.attempts]})


class UnknownModelError(GatewayError, LookupError):
    """404: no ``model_name`` like the one asked for. ``known`` is what the caller may use (for the hint)."""

    status = 404
    error_type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model_name: str, known: Iterable[str]) -> None:
        names = sorted(set(known))
        self.model_name, self.known = model_name, names
        if not model_name:
            message = "the request names no model; set model to"
        else:
            message = f"no model named {model_name!r} on this gateway.{did_you_mean(model_name, names)} Use"
        if names:
            shown = ", ".join(names[:12]) + (f" (and {len(names) - 12} more)" if len(names) > 12 else "")
            message += f" one of: {shown}"
        else:
            message += " a model_name of the config's model_list (none is available to this key)"
        super().__init__(message)


class UpstreamError(GatewayError):
    """An upstream's final error, passed on with its status and its own message (secrets redacted)."""

    error_type = "upstream_error"
    code = None

    def __init__(self, status: int, message: str, *, error_type: str | None = None, code: str | None = None,
                 deployment: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(redact_text(message), status=status,
                         error_type=error_type or _anthropic_type(status), code=code, headers=headers)
        self.deployment = deployment

    @classmethod
    def from_failure(cls, failure: UpstreamFailure, *, deployment: str | None = None) -> UpstreamError:
        """The error a client gets for the router's last failed attempt: the upstream's status, type and code.

        A failure without a status is a 504 for the client when it timed out, else a 502 (no answer).
        """
        error = failure.body.get("error") if isinstance(failure.body, dict) else None
        error_type = error.get("type") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        headers = {"Retry-After": _retry_after_header(failure.retry_after)} if failure.retry_after else None
        status = failure.status or (504 if failure.kind == "timeout" else 502)
        return cls(status, failure.message,
                   error_type=error_type if isinstance(error_type, str) else None,
                   code=code if isinstance(code, str) else None, deployment=deployment, headers=headers)
