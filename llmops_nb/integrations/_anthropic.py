"""Capture of the ``anthropic`` SDK: ``messages.create``/``parse`` and the ``messages.stream`` helper.

Sync and async, streamed or not. ``messages.stream()`` does not go through
``create``: it returns a manager holding a deferred ``_post`` that runs when the
``with`` block is entered, so that deferred request is what gets traced (named
``anthropic.messages.stream``).

Anthropic counts input tokens *without* cache reads and writes. The span's
``gen_ai.usage.input_tokens`` is the whole prompt — input plus cache reads plus
cache writes — as the OpenTelemetry GenAI conventions ask (cached counts "SHOULD
be included"), so totals add up across providers; the cost is computed from
Anthropic's own three counts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from .. import _pricing
from .._safety import log_once
from ..tracing._tracebacks import drop_our_frames
from ._attributes import cost_attributes, given, request_attributes, response_identity, usage_attributes
from ._call import CallSpec, begin
from ._patching import Method, enable, run_traced, run_traced_async, unpatch

PROVIDER = "anthropic"
_REQUEST_NUMBERS = (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                    ("top_k", "gen_ai.request.top_k"), ("max_tokens", "gen_ai.request.max_tokens"))


def enable_anthropic() -> bool:
    """Trace the anthropic SDK (idempotent); False when it is not installed."""
    return enable(PROVIDER, _methods)


def disable_anthropic() -> None:
    """Stop tracing the anthropic SDK (restores the original methods)."""
    unpatch(PROVIDER)


def _methods() -> list[Method]:
    import anthropic
    from anthropic.resources.messages import AsyncMessages, Messages
    from anthropic.types import Message

    spec = CallSpec(PROVIDER, "anthropic.messages.create", _request, _response, _MessageAggregator,
                    (anthropic.Stream, anthropic.AsyncStream), output_model=Message)
    return [Method(Messages, AsyncMessages, "create", spec),
            # parse() posts directly instead of calling create(); older SDKs lack it
            Method(Messages, AsyncMessages, "parse", spec.renamed("anthropic.messages.parse"), optional=True),
            Method(Messages, AsyncMessages, "stream", spec.renamed("anthropic.messages.stream"),
                   wrap=_wrap_stream_helper)]


def _wrap_stream_helper(original: Any, spec: CallSpec, is_async: bool) -> Any:
    # The manager keeps its request in a name-mangled attribute; swap in a traced one.
    attr = "_AsyncMessageStreamManager__api_request" if is_async else "_MessageStreamManager__api_request"

    @functools.wraps(original)
    def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            manager = original(self, *args, **kwargs)
        except BaseException as exc:  # bad arguments: raised as the untraced helper raises them
            drop_our_frames(exc)
            raise
        try:
            request = getattr(manager, attr)
            if is_async:
                traced: Any = _LazyAwait(functools.partial(_traced_request_async, spec, self, args, kwargs, request))
            else:
                traced = functools.partial(_traced_request, spec, self, args, kwargs, request)
            setattr(manager, attr, traced)
        except Exception as exc:  # noqa: BLE001 - an SDK that changed shape: stream untraced
            log_once(f"{PROVIDER}.stream_helper", exc)
        return manager

    return stream


def _traced_request(spec: CallSpec, resource: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                    request: Callable[[], Any]) -> Any:
    """Run a stream helper's deferred request (called when its manager is entered) under a span."""
    try:
        return run_traced(begin(spec, resource, args, kwargs, stream=True), request)
    except BaseException as exc:
        drop_our_frames(exc)  # the manager's __enter__ raises it as the untraced request would
        raise


async def _traced_request_async(spec: CallSpec, resource: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                                request: Any) -> Any:
    try:
        return await run_traced_async(begin(spec, resource, args, kwargs, stream=True, is_async=True),
                                      lambda: request)
    except BaseException as exc:
        drop_our_frames(exc)
        raise


class _LazyAwait:
    """An awaitable that creates its coroutine only when awaited, so a helper never entered
    does not leave a second "coroutine was never awaited" warning behind."""

    __slots__ = ("_factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory

    def __await__(self) -> Any:
        return self._factory().__await__()


# -- request and response attributes -------------------------------------------------------

def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = request_attributes(kwargs, _REQUEST_NUMBERS)
    stop = given(kwargs, "stop_sequences")
    if stop is not None:
        attrs["gen_ai.request.stop_sequences"] = [str(s) for s in stop]
    return attrs


def _response(out: dict[str, Any], request_model: str | None) -> dict[str, Any]:
    attrs = response_identity(out)
    if out.get("stop_reason"):
        attrs["gen_ai.response.finish_reasons"] = [str(out["stop_reason"])]
    usage = out.get("usage") or {}
    fresh, output = usage.get("input_tokens"), usage.get("output_tokens")
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens")
    total_in = fresh + read + written if isinstance(fresh, int) else None
    attrs.update(usage_attributes(total_in, output, usage.get("cache_read_input_tokens"),
                                  usage.get("cache_creation_input_tokens"), thinking))
    one_hour = (usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0
    attrs.update(cost_attributes(out.get("model"), request_model, lambda model: _pricing.cost_usd(
        PROVIDER, model, fresh, output, read, written, cache_creation_1h_tokens=one_hour)))
    if usage.get("service_tier"):
        attrs["anthropic.response.service_tier"] = str(usage["service_tier"])
    return attrs


# -- stream aggregation ------------------------------------------------------------------------

_TEXT_DELTAS = {"text_delta": "text", "thinking_delta": "thinking"}  # delta type -> its text field


class _MessageAggregator:
    """Message stream events -> the dict a non-streamed ``Message`` dumps to."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.pieces: dict[int, list[str]] = {}  # text/thinking deltas, joined at the end
        self.json_parts: dict[int, list[str]] = {}
        self.complete = False
        self.error: str | None = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.message = event.message.model_dump(mode="json", warnings=False)
        elif kind == "content_block_start":
            self.blocks[event.index] = event.content_block.model_dump(mode="json", warnings=False)
        elif kind == "content_block_delta":
            return self._delta(event.index, event.delta)
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            self.complete = True
        return False

    def _delta(self, index: int, delta: Any) -> bool:
        kind = getattr(delta, "type", None)
        if kind in _TEXT_DELTAS:
            piece = getattr(delta, _TEXT_DELTAS[kind], "")
            self.pieces.setdefault(index, []).append(piece)
            return bool(piece)
        if kind == "input_json_delta":
            self.json_parts.setdefault(index, []).append(delta.partial_json)
            return bool(delta.partial_json)
        block = self.blocks.setdefault(index, {})
        if kind == "signature_delta":
            block["signature"] = delta.signature
        elif kind == "citations_delta":
            block.setdefault("citations", None)
            block["citations"] = [*(block["citations"] or []), delta.citation.model_dump(mode="json", warnings=False)]
        return False

    def _message_delta(self, event: Any) -> None:
        for key in ("stop_reason", "stop_sequence", "stop_details", "container"):
            value = getattr(event.delta, key, None)
            if value is not None or key in ("stop_reason", "stop_sequence"):
                dump = getattr(value, "model_dump", None)
                self.message[key] = dump(mode="json", warnings=False) if dump is not None else value
        usage = self.message.setdefault("usage", {})
        # message_delta usage counts are cumulative: they replace, and absent ones keep message_start's.
        for key, value in event.usage.model_dump(mode="json", warnings=False).items():
            if value is not None:
                usage[key] = value

    def result(self) -> dict[str, Any]:
        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            if index in self.pieces:
                field = "thinking" if block.get("type") == "thinking" else "text"
                block[field] = (block.get(field) or "") + "".join(self.pieces[index])
            if index in self.json_parts:
                raw = "".join(self.json_parts[index])
                try:
                    block["input"] = json.loads(raw) if raw else {}
                except ValueError:
                    block["input"] = raw  # cut off or invalid: keep what the model sent
            content.append(block)
        return {**self.message, "content": content}
