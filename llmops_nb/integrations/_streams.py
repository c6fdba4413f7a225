"""Recording one SDK call as a CHAT_MODEL span — streamed or not — without changing the call.

The rule every function here follows: the user gets exactly what the SDK
returned or raised. A stream stays the SDK's own ``Stream`` object; only its
internal iterator is wrapped, so chunks pass through unchanged and in order
while a :class:`StreamRecorder` accumulates them. Anything of ours that fails
is logged once (``log_once``) and the call carries on untraced.

A streamed span ends at whichever comes first: the stream is exhausted, it
raises, the consumer's ``for`` loop stops early (``Stream.__iter__`` is hooked
for that), the stream or its HTTP response is closed (the ``with`` block of the
SDKs' stream helpers), or the stream is garbage-collected unread. A stream read
on after its loop stopped keeps working; those later chunks are not recorded.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._redact import redact_mapping
from .._safety import log_once
from ..tracing import get_current_span, start_span, use_span


class Aggregator(Protocol):
    complete: bool  # the provider's final event was seen
    error: str | None  # an error the provider reported inside the stream

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


# -- patching -------------------------------------------------------------------------

_patches: dict[str, list[tuple[type, str, Any]]] = {}


def patch(provider: str, owner: type, attr: str, make: Callable[[Any], Any], *, optional: bool = False) -> None:
    """Replace ``owner.attr`` with ``make(original)``, once; remembered for :func:`unpatch`."""
    original = owner.__dict__.get(attr)
    if original is None:
        if optional:
            return
        log_once(f"{provider}.patch.{owner.__name__}.{attr}", None,
                 f"llmops_nb: {owner.__module__}.{owner.__name__}.{attr} not found; that method is not traced")
        return
    if getattr(original, "__llmops_nb_original__", None) is not None:
        return
    wrapper = make(original)
    wrapper.__llmops_nb_original__ = original
    setattr(owner, attr, wrapper)
    _patches.setdefault(provider, []).append((owner, attr, original))


def unpatch(provider: str) -> None:
    for owner, attr, original in reversed(_patches.pop(provider, [])):
        setattr(owner, attr, original)


def is_patched(provider: str) -> bool:
    return provider in _patches


# -- one call -----------------------------------------------------------------------------

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

    def finish(self, result: Any) -> Any:
        """Record a returned value; returns it unchanged (a stream keeps the span open)."""
        streaming = False
        try:
            if isinstance(result, self.spec.stream_types):
                streaming = _attach(result, self)
            elif callable(getattr(result, "model_dump", None)):
                self.record_outputs(result.model_dump(mode="json", warnings=False))
            else:
                # with_raw_response / with_streaming_response: the body is the user's to read, not ours.
                self.span.set_attribute("llmops_nb.raw_response", True)
        except Exception as exc:  # noqa: BLE001
            log_once(f"{self.spec.provider}.record", exc)
        if not streaming:
            _end(self.span, self.spec.provider)
        return result

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
        _end(self.span, self.spec.provider)


def begin(spec: CallSpec, resource: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
          *, stream: bool | None = None) -> Call | None:
    """Start the span of a call; None (logged once) if that fails, and the call runs untraced."""
    try:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": spec.provider}
        attributes.update(spec.request_attributes(kwargs))
        attributes.update(server_attributes(resource))
        attributes["llmops_nb.stream"] = bool(kwargs.get("stream") is True if stream is None else stream)
        helper = _helper_method(kwargs.get("extra_headers"))
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


def wrap_call(original: Any, spec: CallSpec, *, is_async: bool) -> Any:
    """A traced version of an SDK method (``create``/``parse``), same signature and metadata."""
    if is_async:
        @functools.wraps(original)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = begin(spec, self, args, kwargs)
            if call is None:
                return await original(self, *args, **kwargs)
            try:
                with use_span(call.span):
                    result = await original(self, *args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            return call.finish(result)

        return traced_async

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = begin(spec, self, args, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        try:
            with use_span(call.span):
                result = original(self, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result)

    return traced


def _end(span: Any, provider: str) -> None:
    try:
        span.end()
    except Exception as exc:  # noqa: BLE001
        log_once(f"{provider}.end", exc)


# -- request helpers ----------------------------------------------------------------------

def scrub_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters as the user passed them, minus SDK sentinels and credentials."""
    inputs: dict[str, Any] = {}
    for key, value in kwargs.items():
        if is_sentinel(value):
            continue
        if key in ("extra_headers", "extra_query", "extra_body"):
            clean = _scrub_mapping(value, query=key == "extra_query") if isinstance(value, dict) else value
            if clean:  # the SDK helpers pass None / {} for these
                inputs[key] = clean
            continue
        inputs[key] = value
    if args:
        inputs["args"] = list(args)
    return inputs


def _scrub_mapping(values: dict[Any, Any], *, query: bool) -> dict[Any, Any]:
    """Headers, query or body parameters minus SDK bookkeeping, with credentials redacted at any depth."""
    kept = {key: value for key, value in values.items()
            if not str(key).lower().startswith("x-stainless-")  # the SDK's own headers, not the user's
            and not is_sentinel(value)}
    return redact_mapping(kept, query=query)  # type: ignore[no-any-return]


def _helper_method(headers: Any) -> str | None:
    if isinstance(headers, dict):
        for key, value in headers.items():
            if str(key).lower() == "x-stainless-helper-method" and isinstance(value, str):
                return value
    return None


def is_sentinel(value: Any) -> bool:
    """The SDKs' "not given" markers (``omit``, ``NOT_GIVEN``), which their helpers pass explicitly."""
    kind = type(value)
    return kind.__name__ in ("Omit", "NotGiven") and kind.__module__.split(".")[0] in ("openai", "anthropic")


def given(kwargs: dict[str, Any], key: str) -> Any:
    value = kwargs.get(key)
    return None if value is None or is_sentinel(value) else value


def server_attributes(resource: Any) -> dict[str, Any]:
    """``server.address``/``server.port`` from the client's base URL (never the URL itself: it may hold credentials)."""
    url = getattr(getattr(resource, "_client", None), "base_url", None)
    host = getattr(url, "host", None)
    if not host:
        return {}
    port = getattr(url, "port", None) or {"https": 443, "http": 80}.get(str(getattr(url, "scheme", "")))
    return {"server.address": str(host), **({"server.port": int(port)} if port else {})}


def usage_attributes(input_tokens: Any, output_tokens: Any, cache_read: Any = None, cache_creation: Any = None,
                     reasoning: Any = None) -> dict[str, Any]:
    names = (("gen_ai.usage.input_tokens", input_tokens), ("gen_ai.usage.output_tokens", output_tokens),
             ("gen_ai.usage.cache_read.input_tokens", cache_read),
             ("gen_ai.usage.cache_creation.input_tokens", cache_creation),
             ("gen_ai.usage.reasoning.output_tokens", reasoning))
    return {name: int(value) for name, value in names if isinstance(value, int) and not isinstance(value, bool)}


# -- streams ------------------------------------------------------------------------------

# Stream object -> its recorder, for the class-level __iter__/__aiter__ hooks (weak: never keeps a stream alive).
_recorders: weakref.WeakKeyDictionary[Any, StreamRecorder] = weakref.WeakKeyDictionary()


class StreamRecorder:
    """Accumulates one stream's chunks and finishes its span exactly once."""

    __slots__ = ("__weakref__", "aggregator", "call", "done", "first_ns", "pulling")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.aggregator: Aggregator | None = call.spec.aggregator()
        self.pulling = False  # inside the SDK's next(): a response close there is the SDK's own
        self.first_ns: int | None = None
        self.done = False

    def item(self, item: Any) -> None:
        if self.done or self.aggregator is None:
            return
        try:
            produced = self.aggregator.add(item)
            if produced and self.first_ns is None:
                self.first_ns = time.time_ns()
                self.call.span.add_event("gen_ai.first_token", None, self.first_ns)
        except Exception as exc:  # noqa: BLE001 - stop aggregating, keep streaming
            log_once(f"{self.call.spec.provider}.stream.aggregate", exc)
            self.aggregator = None

    def closed(self) -> None:
        """The stream (or its response) was closed, or the consumer's loop stopped."""
        if not self.pulling:
            self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        span = self.call.span
        try:
            if self.first_ns is not None:
                span.set_attribute("llmops_nb.time_to_first_token_ms", (self.first_ns - span.start_ns) / 1e6)
            aggregator = self.aggregator
            if aggregator is not None:
                self.call.record_outputs(_shaped(self.call.spec, aggregator.result()))
                span.set_attribute("llmops_nb.stream.complete", bool(aggregator.complete))
                if aggregator.error and error is None:
                    span.set_status("ERROR", aggregator.error)
        except Exception as exc:  # noqa: BLE001
            log_once(f"{self.call.spec.provider}.stream.finish", exc)
        if error is not None:
            self.call.fail(error)
        else:
            _end(span, self.call.spec.provider)


def finish_streams_of(root: Any) -> None:
    """End the spans of this trace's streams still open when its cell ends (read partly, never closed)."""
    for recorder in list(_recorders.values()):
        span = recorder.call.span
        if not recorder.done and span.trace_id_int == root.trace_id_int:
            span.set_attribute("llmops_nb.stream.ended_with_cell", True)
            recorder.finish()


def _shaped(spec: CallSpec, outputs: dict[str, Any]) -> dict[str, Any]:
    if spec.output_model is None:
        return outputs
    try:
        # The SDKs' lenient constructor: builds nested models, fills defaults, never validates.
        return spec.output_model.model_construct(**outputs).model_dump(mode="json", warnings=False)
    except Exception as exc:  # noqa: BLE001 - keep the plain aggregate
        log_once(f"{spec.provider}.stream.shape", exc)
        return outputs


def _attach(stream: Any, call: Call) -> bool:
    """Wrap the SDK stream's internal iterator in place; False if this SDK version has none."""
    inner = getattr(stream, "_iterator", None)  # anthropic builds it lazily: this creates it now
    if inner is None:
        log_once(f"{call.spec.provider}.stream.attach", None,
                 "llmops_nb: this SDK version's Stream has no _iterator; streamed outputs are not recorded")
        return False
    recorder = StreamRecorder(call)
    is_async = hasattr(inner, "__anext__")
    stream._iterator = _record_async(inner, recorder) if is_async else _record_sync(inner, recorder)
    _recorders[stream] = recorder
    _hook_close(getattr(stream, "response", None), recorder, is_async)
    weakref.finalize(stream, recorder.finish)  # dropped unread: end the span with what we have
    return True


def _record_sync(inner: Iterator[Any], recorder: StreamRecorder) -> Iterator[Any]:
    # Holds the inner iterator and the recorder only, never the stream: no reference cycle.
    try:
        while True:
            recorder.pulling = True
            try:
                item = next(inner)
            except StopIteration:
                break
            finally:
                recorder.pulling = False
            recorder.item(item)
            yield item
    except BaseException as exc:
        recorder.finish(None if isinstance(exc, GeneratorExit) else exc)
        raise
    recorder.finish()


async def _record_async(inner: AsyncIterator[Any], recorder: StreamRecorder) -> AsyncIterator[Any]:
    try:
        while True:
            recorder.pulling = True
            try:
                item = await inner.__anext__()
            except StopAsyncIteration:
                break
            finally:
                recorder.pulling = False
            recorder.item(item)
            yield item
    except BaseException as exc:
        recorder.finish(None if isinstance(exc, GeneratorExit) else exc)
        raise
    recorder.finish()


def _hook_close(response: Any, recorder: StreamRecorder, is_async: bool) -> None:
    """Finish the span when the HTTP response is closed: the SDKs' stream helpers close it directly."""
    name = "aclose" if is_async else "close"
    original = getattr(type(response), name, None)
    if response is None or original is None:
        return
    ref = weakref.ref(response)  # the hook lives on the response: a strong ref would be a cycle
    if is_async:
        async def aclose() -> None:
            try:
                target = ref()
                if target is not None:
                    await original(target)
            finally:
                recorder.closed()

        hook: Any = aclose
    else:
        def close() -> None:
            try:
                target = ref()
                if target is not None:
                    original(target)
            finally:
                recorder.closed()

        hook = close
    try:
        setattr(response, name, hook)
    except Exception as exc:  # noqa: BLE001
        log_once(f"{recorder.call.spec.provider}.stream.close_hook", exc)


def hook_stream_class(provider: str, stream_cls: type, *, is_async: bool) -> None:
    """Make a consumer's early ``break`` end the span (the SDK's ``__iter__`` does not close its iterator)."""
    if is_async:
        def make_async(original: Any) -> Any:
            @functools.wraps(original)
            async def traced_aiter(self: Any) -> AsyncIterator[Any]:
                try:
                    async for item in original(self):
                        yield item
                finally:
                    recorder = _recorders.get(self)
                    if recorder is not None:
                        recorder.closed()

            return traced_aiter

        patch(provider, stream_cls, "__aiter__", make_async)
        return

    def make(original: Any) -> Any:
        @functools.wraps(original)
        def traced_iter(self: Any) -> Iterator[Any]:
            try:
                yield from original(self)
            finally:
                recorder = _recorders.get(self)
                if recorder is not None:
                    recorder.closed()

        return traced_iter

    patch(provider, stream_cls, "__iter__", make)
