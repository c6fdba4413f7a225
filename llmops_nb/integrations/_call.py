"""One SDK call as a CHAT_MODEL span: how a method is recorded (:class:`CallSpec`) and the span's life (:class:`Call`).

Anything of ours that fails here is logged once (``log_once``) and the call
carries on untraced: the user always gets what the SDK returned or raised.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .._safety import log_once
from ..tracing import get_current_span, start_span
from ._attributes import helper_method, scrub_inputs, server_attributes, through_gateway

#: The span of the SDK call being made, for code below the SDK (replay's marks on the wire): another
#: tracer's span (an OpenInference instrumentor's) may be the current span by then.
current_call: contextvars.ContextVar[Any] = contextvars.ContextVar("llmops_nb_sdk_call", default=None)


class Aggregator(Protocol):
    error: str | None  # an error the provider reported inside the stream

    @property
    def complete(self) -> bool:
        """The provider's final event was seen."""

    def add(self, item: Any) -> bool:
        """Take one chunk/event; True when it carried generated content (for time to first token)."""

    def result(self) -> dict[str, Any]:
        """The response so far, shaped like the provider's non-streamed response."""


@dataclass(frozen=True)
class CallSpec:
    """How one SDK method is recorded."""

    provider: str
    name: str
    request_attributes: Callable[[dict[str, Any]], dict[str, Any]]
    #: (outputs dict, request model) -> attributes: response id/model, finish reasons, usage, cost
    response_attributes: Callable[[dict[str, Any], str | None], dict[str, Any]]
    aggregator: Callable[[], Aggregator]
    stream_types: tuple[type, ...]
    #: SDK helper ("x-stainless-helper-method" header) -> span name, e.g. chat.completions.stream
    helper_names: dict[str, str] = field(default_factory=dict)
    #: outputs -> error message when the provider reported a failed response with HTTP 200
    response_error: Callable[[dict[str, Any]], str | None] | None = None
    #: the SDK's response model: a stream's aggregate is rebuilt through it so it dumps exactly
    #: like a non-streamed response (every field present, same nesting)
    output_model: Any = None

    def renamed(self, name: str) -> CallSpec:
        """The same recording under another span name (``parse``, a stream helper); helper names dropped."""
        return replace(self, name=name, helper_names={})


class Call:
    """The span of one SDK call, from the request until the response (or stream) is finished."""

    __slots__ = ("span", "spec")

    def __init__(self, spec: CallSpec, span: Any) -> None:
        self.spec, self.span = spec, span

    def record_outputs(self, outputs: dict[str, Any]) -> None:
        span = self.span
        span.set_outputs(outputs)
        span.set_attributes(self.spec.response_attributes(outputs, span.attributes.get("gen_ai.request.model")))
        error = self.spec.response_error(outputs) if self.spec.response_error else None
        if error:
            span.set_status("ERROR", error)

    def fail(self, exc: BaseException) -> None:
        try:
            span = self.span
            span.record_exception(exc)
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
            span.set_attribute("error.type", f"{type(exc).__module__}.{type(exc).__qualname__}")
        except Exception as error:  # noqa: BLE001
            log_once(f"{self.spec.provider}.fail", error)
        self.end()

    def end(self) -> None:
        try:
            self.span.end()
        except Exception as exc:  # noqa: BLE001
            log_once(f"{self.spec.provider}.end", exc)


def begin(spec: CallSpec, resource: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
          *, stream: bool | None = None, is_async: bool = False) -> Call | None:
    """Start the span of a call; None (logged once) if that fails, and the call runs untraced."""
    if through_gateway(resource):
        return None  # the in-kernel gateway records this call itself: its deployment, attempts and cost, once
    try:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": spec.provider}
        attributes.update(spec.request_attributes(kwargs))
        attributes.update(server_attributes(resource))
        attributes["llmops_nb.stream"] = bool(kwargs.get("stream") is True if stream is None else stream)
        if is_async:  # the views mark async calls (the name is the same as the sync method's)
            attributes["llmops_nb.async"] = True
        helper = helper_method(kwargs.get("extra_headers"))
        parent = get_current_span()
        span = start_span(spec.helper_names.get(helper or "", spec.name), kind="CHAT_MODEL", attributes=attributes,
                          parent=parent)
        # A framework's span we nest under (an OTel span standing in as our parent) hears that this call
        # is recorded here, so its own LLM span is not counted a second time (see otel/_bridge.py).
        note = getattr(parent, "note_sdk_call", None)
        if note is not None:
            note()
        span.set_inputs(scrub_inputs(args, kwargs))
        return Call(spec, span)
    except Exception as exc:  # noqa: BLE001
        log_once(f"{spec.provider}.begin", exc)
        return None
