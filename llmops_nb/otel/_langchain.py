"""LangChain and LangGraph: make the framework's current run our current span while it runs code.

LangChain's tracer never attaches its spans to the OTel context (on purpose: callbacks may not pair
up), so code LangChain runs — a tool, a lambda, a LangGraph node, the SDK call inside a chat model —
cannot find them there, and a ``@llmops_nb.trace`` function or our SDK capture in it would nest under
whatever was current before (the cell's root). Small hooks set a ``ForeignParent`` of the run's
OpenInference span as our current span exactly where the framework runs that code:

- ``langchain_core.runnables.config._set_config_context``: every runnable step, tool and lambda
  runs inside the copied context it sets up;
- ``langgraph._internal._runnable._set_config_context``: LangGraph's own copy of it, for nodes;
- ``BaseChatModel._generate_with_cache`` / ``_agenerate_with_cache``: a chat model's call;
- ``BaseChatModel.stream`` / ``astream``: the stream's run id is chosen up front, the LLM span is
  made current the moment it starts (``on_chat_model_start``) and for each later step of the
  stream, and the consumer's code between chunks runs in its own context as before.

Each hook calls the original and never raises on our account; an error from the framework or the
model leaves without the hook's frame (``drop_our_frames``), as if untraced. ``unhook`` restores the
originals.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._safety import log_once
from ..tracing import _context as our_context
from ..tracing._tracebacks import drop_our_frames

_saved: dict[str, Any] = {}
#: run ids of chat-model streams in flight: their LLM span becomes current when it starts
_stream_runs: set[Any] = set()
_state: dict[str, Any] = {"instrumentor": None}
LANGGRAPH_MODULE = "langgraph._internal._runnable"


def _foreign(run_id: Any) -> Any:
    from ._context import ForeignParent

    instrumentor = _state["instrumentor"]
    span = instrumentor.get_span(run_id) if run_id is not None and instrumentor is not None else None
    if span is None or not span.is_recording():
        return None
    previous = our_context.current_span.get()
    return ForeignParent(span, previous.depth + 1 if previous is not None else 0)


def _set_parent_of(config: Any) -> None:
    """In the context LangChain/LangGraph just set up for a step: its run is our current span."""
    try:
        parent = _foreign(getattr(config.get("callbacks"), "parent_run_id", None))
        if parent is not None:
            our_context.current_span.set(parent)
    except Exception as exc:  # noqa: BLE001
        log_once("otel.langchain_context", exc)


def hook(instrumentor: Any) -> None:
    """Install the LangChain hooks (idempotent); LangGraph's too if it is imported already."""
    _state["instrumentor"] = instrumentor
    if _saved:
        return
    from langchain_core.callbacks import manager
    from langchain_core.language_models import chat_models
    from langchain_core.runnables import config as lc_config

    original_set = lc_config._set_config_context

    def _set_config_context(config: Any) -> Any:
        result = original_set(config)
        _set_parent_of(config)  # runs inside the copied context LangChain runs the step in
        return result

    model = chat_models.BaseChatModel
    _saved.update(set=original_set, generate=model._generate_with_cache, agenerate=model._agenerate_with_cache,
                  stream=model.stream, astream=model.astream, start=manager.CallbackManager.on_chat_model_start,
                  astart=manager.AsyncCallbackManager.on_chat_model_start)
    lc_config._set_config_context = _set_config_context
    model._generate_with_cache = _generate_with_cache  # type: ignore[method-assign]
    model._agenerate_with_cache = _agenerate_with_cache  # type: ignore[method-assign]
    model.stream = _stream  # type: ignore[method-assign]
    model.astream = _astream  # type: ignore[method-assign]
    manager.CallbackManager.on_chat_model_start = _on_chat_model_start  # type: ignore[method-assign]
    manager.AsyncCallbackManager.on_chat_model_start = _aon_chat_model_start  # type: ignore[method-assign]
    if LANGGRAPH_MODULE in sys.modules:
        hook_langgraph()


def hook_langgraph() -> None:
    """LangGraph runs nodes in a context of its own making (its own ``_set_config_context``)."""
    module: Any = sys.modules.get(LANGGRAPH_MODULE)
    if module is None or "langgraph_set" in _saved or not _saved:
        return
    original = module._set_config_context

    def _set_config_context(config: Any, run: Any = None) -> Any:
        result = original(config, run)
        _set_parent_of(config)
        return result

    _saved["langgraph_set"] = original
    module._set_config_context = _set_config_context


def unhook() -> None:
    if not _saved:
        return
    from langchain_core.callbacks import manager
    from langchain_core.language_models import chat_models
    from langchain_core.runnables import config as lc_config

    lc_config._set_config_context = _saved["set"]
    model = chat_models.BaseChatModel
    model._generate_with_cache = _saved["generate"]  # type: ignore[method-assign]
    model._agenerate_with_cache = _saved["agenerate"]  # type: ignore[method-assign]
    model.stream = _saved["stream"]  # type: ignore[method-assign]
    model.astream = _saved["astream"]  # type: ignore[method-assign]
    manager.CallbackManager.on_chat_model_start = _saved["start"]  # type: ignore[method-assign]
    manager.AsyncCallbackManager.on_chat_model_start = _saved["astart"]  # type: ignore[method-assign]
    langgraph: Any = sys.modules.get(LANGGRAPH_MODULE)
    if "langgraph_set" in _saved and langgraph is not None:
        langgraph._set_config_context = _saved["langgraph_set"]
    _saved.clear()


# -- a chat model's call ---------------------------------------------------------------------------
def _run_parent(kwargs: dict[str, Any]) -> Any:
    try:
        manager = kwargs.get("run_manager")
        return _foreign(getattr(manager, "run_id", None)) if manager is not None else None
    except Exception as exc:  # noqa: BLE001
        log_once("otel.langchain_model_context", exc)
        return None


def _generate_with_cache(self: Any, *args: Any, **kwargs: Any) -> Any:
    parent = _run_parent(kwargs)
    token = our_context.current_span.set(parent) if parent is not None else None
    try:
        return _saved["generate"](self, *args, **kwargs)
    except BaseException as exc:
        drop_our_frames(exc)
        raise
    finally:
        if token is not None:
            our_context.current_span.reset(token)


async def _agenerate_with_cache(self: Any, *args: Any, **kwargs: Any) -> Any:
    parent = _run_parent(kwargs)
    token = our_context.current_span.set(parent) if parent is not None else None
    try:
        return await _saved["agenerate"](self, *args, **kwargs)
    except BaseException as exc:
        drop_our_frames(exc)
        raise
    finally:
        if token is not None:
            our_context.current_span.reset(token)


# -- a chat model's stream -------------------------------------------------------------------------
def _with_run_id(config: Any) -> tuple[dict[str, Any], Any]:
    config = dict(config or {})
    if config.get("run_id") is None:
        config["run_id"] = uuid.uuid4()
    return config, config["run_id"]


def _on_chat_model_start(self: Any, serialized: Any, messages: Any, run_id: Any = None, **kwargs: Any) -> Any:
    try:
        managers = _saved["start"](self, serialized, messages, run_id=run_id, **kwargs)
    except BaseException as exc:  # a callback handler with raise_error=True
        drop_our_frames(exc)
        raise
    _enter_stream_run(run_id)
    return managers


async def _aon_chat_model_start(self: Any, serialized: Any, messages: Any, run_id: Any = None,
                                **kwargs: Any) -> Any:
    try:
        managers = await _saved["astart"](self, serialized, messages, run_id=run_id, **kwargs)
    except BaseException as exc:
        drop_our_frames(exc)
        raise
    _enter_stream_run(run_id)
    return managers


def _enter_stream_run(run_id: Any) -> None:
    # Inside a stream's step: its LLM span is current until the step yields (see _step).
    if run_id is not None and run_id in _stream_runs:
        parent = _foreign(run_id)
        if parent is not None:
            our_context.current_span.set(parent)


def _step(run_id: Any) -> Any:
    """Before one step of a stream: the LLM span current (once it exists); returns what to restore."""
    before = our_context.current_span.get()
    parent = _foreign(run_id)
    if parent is not None:
        our_context.current_span.set(parent)
    return before


def _stream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
    config, run_id = _with_run_id(config)
    return _stream_steps(_saved["stream"](self, input, config, **kwargs), run_id)


def _stream_steps(inner: Iterator[Any], run_id: Any) -> Iterator[Any]:
    _stream_runs.add(run_id)
    try:
        while True:
            before = _step(run_id)
            try:
                chunk = next(inner)
            except StopIteration:
                return
            finally:
                our_context.current_span.set(before)
            yield chunk
    except BaseException as exc:
        drop_our_frames(exc)
        raise
    finally:
        _stream_runs.discard(run_id)
        close = getattr(inner, "close", None)
        if close is not None:
            close()  # a consumer that stops early ends the model's stream now, not at garbage collection


def _astream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
    config, run_id = _with_run_id(config)
    return _astream_steps(_saved["astream"](self, input, config, **kwargs), run_id)


async def _astream_steps(inner: AsyncIterator[Any], run_id: Any) -> AsyncIterator[Any]:
    _stream_runs.add(run_id)
    try:
        while True:
            before = _step(run_id)
            try:
                chunk = await inner.__anext__()
            except StopAsyncIteration:
                return
            finally:
                our_context.current_span.set(before)
            yield chunk
    except BaseException as exc:
        drop_our_frames(exc)
        raise
    finally:
        _stream_runs.discard(run_id)
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()


__all__ = ["LANGGRAPH_MODULE", "hook", "hook_langgraph", "unhook"]
