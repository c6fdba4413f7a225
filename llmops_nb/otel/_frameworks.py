"""Framework capture: the OpenInference instrumentor of each installed framework, feeding the bridge.

``llmops_nb.autolog()`` calls :func:`enable_frameworks`. For every framework in :data:`FRAMEWORKS`
whose package *and* OpenInference instrumentor are installed, the instrumentor is turned on with
the bridge's tracer provider (``_bridge.install``) — now if the framework is imported already,
else the moment the program imports it (so autolog never pays a framework's import time).

Not turned on, on purpose: the openai and anthropic instrumentors. Our own capture records those
SDK calls; a framework's span around such a call is kept as a CHAIN (see ``_bridge.py``).

LangChain's tracer never attaches its spans to the OTel context (on purpose: callbacks may not
pair up), so code run by LangChain cannot find them there. Two small hooks make the LangChain run
current for our spans while LangChain runs user code: ``_set_config_context`` (every runnable
step, tool and lambda runs inside the context it sets up) and ``_generate_with_cache`` (the chat
model call, so the SDK call our capture records nests under the LangChain LLM span).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .._safety import log_once
from ..tracing import _context as our_context


@dataclass(frozen=True)
class Framework:
    name: str
    module: str  # imported by the user's program: the trigger
    instrumentor: str  # "package.module:Class"
    extra: str  # pip install llmops_nb[extra]


FRAMEWORKS = (
    Framework("langchain", "langchain_core", "openinference.instrumentation.langchain:LangChainInstrumentor",
              "langchain"),
    Framework("llama_index", "llama_index.core", "openinference.instrumentation.llama_index:LlamaIndexInstrumentor",
              "llama-index"),
    Framework("litellm", "litellm", "openinference.instrumentation.litellm:LiteLLMInstrumentor", "litellm"),
    Framework("dspy", "dspy", "openinference.instrumentation.dspy:DSPyInstrumentor", "dspy"),
    Framework("openai_agents", "agents", "openinference.instrumentation.openai_agents:OpenAIAgentsInstrumentor",
              "openai-agents"),
    Framework("crewai", "crewai", "openinference.instrumentation.crewai:CrewAIInstrumentor", "crewai"),
    Framework("smolagents", "smolagents", "openinference.instrumentation.smolagents:SmolagentsInstrumentor",
              "smolagents"),
    Framework("haystack", "haystack", "openinference.instrumentation.haystack:HaystackInstrumentor", "haystack"),
    Framework("google_adk", "google.adk", "openinference.instrumentation.google_adk:GoogleADKInstrumentor",
              "google-adk"),
)
_BY_MODULE = {f.module: f for f in FRAMEWORKS}
_lock = threading.Lock()
_waiting: set[str] = set()
enabled: dict[str, Any] = {}  # framework name → its instrumentor instance


def _distribution(instrumentor: str) -> bool:
    """Is the instrumentor installed? Asked of the package metadata: importing it would load OTel."""
    package = instrumentor.split(":", maxsplit=1)[0].rsplit(".", 1)[1].replace("_", "-")
    try:
        importlib.metadata.version(f"openinference-instrumentation-{package}")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def enable_frameworks() -> list[str]:
    """Turn on capture for every installed framework; returns their names (those waiting for import too)."""
    names = []
    with _lock:
        for framework in FRAMEWORKS:
            if framework.name in enabled:
                names.append(framework.name)
            elif _distribution(framework.instrumentor) and _installed(framework.module):
                if framework.module in sys.modules:
                    if _instrument(framework):
                        names.append(framework.name)
                else:
                    _waiting.add(framework.module)
                    names.append(framework.name)
        if _waiting and not any(isinstance(f, _ImportWatcher) for f in sys.meta_path):
            sys.meta_path.insert(0, _ImportWatcher())
    return names


def disable_frameworks() -> None:
    """Turn capture of every framework off again (the bridge stays; our spans are unaffected)."""
    with _lock:
        _waiting.clear()
        for name, instrumentor in list(enabled.items()):
            try:
                instrumentor.uninstrument()
            except Exception as exc:  # noqa: BLE001
                log_once(f"otel.uninstrument.{name}", exc)
            enabled.pop(name, None)
        _unhook_langchain()


def _instrument(framework: Framework) -> bool:
    try:
        from . import _bridge

        provider = _bridge.install()
        module_name, class_name = framework.instrumentor.split(":")
        instrumentor = getattr(importlib.import_module(module_name), class_name)()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
        enabled[framework.name] = instrumentor
        if framework.name == "langchain":
            _hook_langchain(instrumentor)
        return True
    except Exception as exc:  # noqa: BLE001 - the user's program goes on without framework spans
        log_once(f"otel.instrument.{framework.name}", exc,
                 f"llmops_nb: could not capture {framework.name} through OpenInference; check that "
                 f"llmops_nb[{framework.extra}] is installed with compatible versions")
        return False


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Instruments a framework right after its package finishes importing."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _InstrumentAfterLoad(spec.loader, fullname)
                return spec
        return None


class _InstrumentAfterLoad(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        with _lock:
            if self._name not in _waiting:
                return
            _waiting.discard(self._name)
        _instrument(_BY_MODULE[self._name])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


# -- LangChain: make its run current for our spans ----------------------------------------------
_saved: dict[str, Any] = {}


def _foreign(instrumentor: Any, run_id: Any) -> Any:
    from ._context import ForeignParent

    span = instrumentor.get_span(run_id) if run_id is not None else None
    if span is None or not span.is_recording():
        return None
    previous = our_context.current_span.get()
    return ForeignParent(span, previous.depth + 1 if previous is not None else 0)


def _hook_langchain(instrumentor: Any) -> None:
    if _saved:
        return
    from langchain_core.language_models import chat_models
    from langchain_core.runnables import config as lc_config

    original_set = lc_config._set_config_context

    def _set_config_context(config: Any) -> Any:
        result = original_set(config)
        try:  # runs inside the copied context LangChain runs the step in: ours is set there only
            parent = _foreign(instrumentor, getattr(config.get("callbacks"), "parent_run_id", None))
            if parent is not None:
                our_context.current_span.set(parent)
        except Exception as exc:  # noqa: BLE001
            log_once("otel.langchain_context", exc)
        return result

    model = chat_models.BaseChatModel
    original_generate, original_agenerate = model._generate_with_cache, model._agenerate_with_cache

    def _generate_with_cache(self: Any, *args: Any, **kwargs: Any) -> Any:
        parent = _run_parent(instrumentor, kwargs)
        if parent is None:
            return original_generate(self, *args, **kwargs)
        token = our_context.current_span.set(parent)
        try:
            return original_generate(self, *args, **kwargs)
        finally:
            our_context.current_span.reset(token)

    async def _agenerate_with_cache(self: Any, *args: Any, **kwargs: Any) -> Any:
        parent = _run_parent(instrumentor, kwargs)
        if parent is None:
            return await original_agenerate(self, *args, **kwargs)
        token = our_context.current_span.set(parent)
        try:
            return await original_agenerate(self, *args, **kwargs)
        finally:
            our_context.current_span.reset(token)

    _saved.update(set=original_set, generate=original_generate, agenerate=original_agenerate)
    lc_config._set_config_context = _set_config_context
    model._generate_with_cache = _generate_with_cache  # type: ignore[method-assign]
    model._agenerate_with_cache = _agenerate_with_cache  # type: ignore[method-assign]


def _run_parent(instrumentor: Any, kwargs: dict[str, Any]) -> Any:
    try:
        manager = kwargs.get("run_manager")
        return _foreign(instrumentor, getattr(manager, "run_id", None)) if manager is not None else None
    except Exception as exc:  # noqa: BLE001
        log_once("otel.langchain_model_context", exc)
        return None


def _unhook_langchain() -> None:
    if not _saved:
        return
    from langchain_core.language_models import chat_models
    from langchain_core.runnables import config as lc_config

    lc_config._set_config_context = _saved["set"]
    chat_models.BaseChatModel._generate_with_cache = _saved["generate"]  # type: ignore[method-assign]
    chat_models.BaseChatModel._agenerate_with_cache = _saved["agenerate"]  # type: ignore[method-assign]
    _saved.clear()


__all__ = ["FRAMEWORKS", "Framework", "disable_frameworks", "enable_frameworks", "enabled", "status"]


def status() -> dict[str, Any]:
    return {"enabled": sorted(enabled), "waiting_for_import": sorted(_BY_MODULE[m].name for m in _waiting)}


def autolog_hook(disable: bool = False) -> list[str]:
    """What ``llmops_nb.autolog()`` calls: framework capture on (or off), the names affected."""
    try:
        if disable:
            names = sorted(enabled) + sorted(_BY_MODULE[m].name for m in _waiting)
            disable_frameworks()
            return names
        return enable_frameworks()
    except Exception as exc:  # noqa: BLE001 - autolog of the SDKs must work whatever happens here
        log_once("otel.autolog", exc)
        return []
