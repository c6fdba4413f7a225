"""The patch skeleton every provider shares: which SDK methods are replaced, and by what.

A provider module lists its methods once (:class:`Method`: the sync and async
resource classes, the attribute, its :class:`~._call.CallSpec`) and calls
:func:`enable`; the traced versions keep the SDK's signatures and metadata,
and :func:`unpatch` puts every original back (:mod:`._originals` keeps them).
The traced call itself is one rule, :func:`run_traced`: start the span, run
the SDK inside it, record what it returned (a stream keeps its span open) or
raised, and give that back unchanged. A raised exception leaves without our
frames (``drop_our_frames`` in each wrapper's ``except``): the user's traceback
is the untraced call's.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._safety import log_once
from ..pii._errors import PiiBlockedError
from ..pii._records import check_request
from ..tracing import use_span
from ..tracing._tracebacks import drop_our_frames
from ._call import Call, CallSpec, begin, current_call
from ._originals import is_patched, patch, unpatch
from ._streams import aiter_hook, attach, iter_hook

__all__ = ["Method", "enable", "is_patched", "record_result", "run_traced", "run_traced_async", "unpatch",
           "wrap_call"]

#: (original SDK function, how it is recorded, is it the async resource's) -> the traced function
Wrap = Callable[[Any, CallSpec, bool], Any]


def wrap_call(original: Any, spec: CallSpec, is_async: bool) -> Any:
    """A traced version of an SDK method (``create``/``parse``), same signature and metadata."""
    if is_async:
        @functools.wraps(original)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await run_traced_async(begin(spec, self, args, kwargs, is_async=True),
                                              lambda: _checked(kwargs, original)(self, *args, **kwargs))
            except BaseException as exc:
                drop_our_frames(exc)  # this frame, run_traced_async's and the lambda's
                raise

        return traced_async

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return run_traced(begin(spec, self, args, kwargs),
                              lambda: _checked(kwargs, original)(self, *args, **kwargs))
        except BaseException as exc:
            drop_our_frames(exc)  # this frame, run_traced's and the lambda's
            raise

    return traced


def _checked(kwargs: dict[str, Any], original: Any) -> Any:
    """``original``, once the PII policy let the request through (its ``block`` raises here, in the span)."""
    try:
        check_request(kwargs)
    except PiiBlockedError:
        raise
    except Exception as exc:  # noqa: BLE001 - a fault of ours never stops the user's call
        log_once("pii-check", exc)
    return original


@dataclass(frozen=True)
class Method:
    """One SDK method to trace on both resource classes, e.g. ``Completions.create`` and ``AsyncCompletions.create``."""

    sync_owner: type
    async_owner: type
    attr: str
    spec: CallSpec
    optional: bool = False  # absent from older SDK versions: skipped without a warning
    wrap: Wrap = wrap_call


def enable(provider: str, methods: Callable[[], Sequence[Method]]) -> bool:
    """Patch what ``methods()`` lists, and the stream classes of their specs (idempotent).

    ``methods`` imports the SDK; False when that raises ImportError (the SDK is not installed).
    """
    if is_patched(provider):
        return True
    try:
        listed = methods()
    except ImportError:
        return False
    streams: dict[type, None] = {}
    for method in listed:
        for owner, is_async in ((method.sync_owner, False), (method.async_owner, True)):
            patch(provider, owner, method.attr, functools.partial(_wrapped, method, is_async),
                  optional=method.optional)
        streams.update(dict.fromkeys(method.spec.stream_types))
    for stream_cls in streams:  # a consumer's early `break` must end the span
        if "__aiter__" in dir(stream_cls):
            patch(provider, stream_cls, "__aiter__", aiter_hook)
        else:
            patch(provider, stream_cls, "__iter__", iter_hook)
    return True


def _wrapped(method: Method, is_async: bool, original: Any) -> Any:
    return method.wrap(original, method.spec, is_async)


def run_traced(call: Call | None, request: Callable[[], Any]) -> Any:
    """``request()`` under the call's span (or untraced when the span could not start), recorded, returned as is."""
    if call is None:
        return request()
    token = current_call.set(call.span)
    try:
        with use_span(call.span):
            result = request()
    except BaseException as exc:
        drop_our_frames(exc)  # before recording it: the span's traceback starts at the SDK's frame
        call.fail(exc)
        raise
    finally:
        current_call.reset(token)
    return record_result(call, result)


async def run_traced_async(call: Call | None, request: Callable[[], Awaitable[Any]]) -> Any:
    if call is None:
        return await request()
    token = current_call.set(call.span)
    try:
        with use_span(call.span):
            result = await request()
    except BaseException as exc:
        drop_our_frames(exc)  # before recording it: the span's traceback starts at the SDK's frame
        call.fail(exc)
        raise
    finally:
        current_call.reset(token)
    return record_result(call, result)


def record_result(call: Call, result: Any) -> Any:
    """Record a returned value; returns it unchanged (a stream keeps the span open until it is done)."""
    streaming = False
    try:
        if isinstance(result, call.spec.stream_types):
            streaming = attach(result, call)
        elif callable(getattr(result, "model_dump", None)):
            call.record_outputs(result.model_dump(mode="json", warnings=False))
        else:
            # with_raw_response / with_streaming_response: the body is the user's to read, not ours.
            call.span.set_attribute("llmops_nb.raw_response", True)
    except Exception as exc:  # noqa: BLE001
        log_once(f"{call.spec.provider}.record", exc)
    if not streaming:
        call.end()
    return result
