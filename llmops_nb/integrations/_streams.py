"""Recording a streamed SDK call: chunks pass through unchanged while the span gathers them.

The user gets exactly what the SDK returned or raised. A stream stays the
SDK's own ``Stream`` object; only its internal iterator is wrapped, so chunks
pass through unchanged and in order while a :class:`StreamRecorder`
accumulates them. Anything of ours that fails is logged once (``log_once``)
and the stream carries on unrecorded.

A streamed span ends at whichever comes first: the stream is exhausted, it
raises, the consumer's ``for`` loop stops early (``Stream.__iter__`` is hooked
for that), the stream or its HTTP response is closed (the ``with`` block of the
SDKs' stream helpers), or the stream is garbage-collected unread. A stream read
on after its loop stopped keeps working; those later chunks are not recorded.

Our iterator sits between the SDK's ``Stream.__iter__`` and its ``__stream__``,
and our ``__iter__`` hook above the SDK's: an error raised while iterating
passes through both, and each unlinks its frame (``drop_our_frames``) so the
consumer's traceback is the untraced stream's.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._safety import log_once
from ..tracing._tracebacks import drop_our_frames
from ._call import Aggregator, Call, CallSpec

__all__ = ["StreamRecorder", "aiter_hook", "attach", "finish_streams_of", "iter_hook"]

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
            self.call.end()


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


def attach(stream: Any, call: Call) -> bool:
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
        drop_our_frames(exc)  # before recording it, and whether or not the span is still open
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
        drop_our_frames(exc)
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
            except BaseException as exc:
                drop_our_frames(exc)
                raise
            finally:
                recorder.closed()

        hook: Any = aclose
    else:
        def close() -> None:
            try:
                target = ref()
                if target is not None:
                    original(target)
            except BaseException as exc:
                drop_our_frames(exc)
                raise
            finally:
                recorder.closed()

        hook = close
    try:
        setattr(response, name, hook)
    except Exception as exc:  # noqa: BLE001
        log_once(f"{recorder.call.spec.provider}.stream.close_hook", exc)


def iter_hook(original: Any) -> Any:
    """``Stream.__iter__`` that ends the span when the consumer's ``for`` loop stops early
    (the SDK's own ``__iter__`` does not close its iterator)."""
    @functools.wraps(original)
    def traced_iter(self: Any) -> Iterator[Any]:
        try:
            yield from original(self)
        except BaseException as exc:
            drop_our_frames(exc)
            raise
        finally:
            recorder = _recorders.get(self)
            if recorder is not None:
                recorder.closed()

    return traced_iter


def aiter_hook(original: Any) -> Any:
    """``AsyncStream.__aiter__``, likewise."""
    @functools.wraps(original)
    async def traced_aiter(self: Any) -> AsyncIterator[Any]:
        try:
            async for item in original(self):
                yield item
        except BaseException as exc:
            drop_our_frames(exc)
            raise
        finally:
            recorder = _recorders.get(self)
            if recorder is not None:
                recorder.closed()

    return traced_aiter
