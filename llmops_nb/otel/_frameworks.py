"""Framework capture: the OpenInference instrumentor of each installed framework, feeding the bridge.

``llmops_nb.autolog()`` calls :func:`enable_frameworks`. For every framework in :data:`FRAMEWORKS`
whose package *and* OpenInference instrumentor are installed, the instrumentor is turned on with
the bridge's tracer provider (``_bridge.install``) — now if the framework is imported already,
else the moment the program imports it (so autolog never pays a framework's import time).

Not turned on, on purpose: the openai and anthropic instrumentors. Our own capture records those
SDK calls; a framework's span around such a call is kept as a CHAIN (see ``_bridge.py``).

LangChain's runs become our current span where LangChain and LangGraph run code (``_langchain.py``);
LangGraph's hook goes in when LangGraph is imported, like a framework's instrumentor.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .._on_import import after_import
from .._safety import log_once


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
                    _wait_for(framework.module)
                    names.append(framework.name)
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
        from . import _langchain

        _langchain.unhook()


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
            from . import _langchain

            _langchain.hook(instrumentor)
            _watch(_langchain.LANGGRAPH_MODULE)
        return True
    except Exception as exc:  # noqa: BLE001 - the user's program goes on without framework spans
        log_once(f"otel.instrument.{framework.name}", exc,
                 f"llmops_nb: could not capture {framework.name} through OpenInference; check that "
                 f"llmops_nb[{framework.extra}] is installed with compatible versions")
        return False


def _watch(module: str) -> None:
    """Call the module's hook when it is imported (now, if it is imported already)."""
    if module in sys.modules:
        from . import _langchain

        _langchain.hook_langgraph()
        return
    _wait_for(module)  # no lock: enable_frameworks() holds it while instrumenting


def _wait_for(module: str) -> None:
    """Instrument (or hook) ``module`` right after the program imports it, unless turned off first."""
    if module not in _waiting:
        _waiting.add(module)
        after_import(module, functools.partial(_imported, module))


def _imported(module: str) -> None:
    with _lock:
        if module not in _waiting:  # disable_frameworks() came first
            return
        _waiting.discard(module)
    if module in _BY_MODULE:
        _instrument(_BY_MODULE[module])
    else:  # LangGraph: our context hook, on top of LangChain's instrumentor
        from . import _langchain

        _langchain.hook_langgraph()


__all__ = ["FRAMEWORKS", "Framework", "disable_frameworks", "enable_frameworks", "enabled", "status"]


def status() -> dict[str, Any]:
    return {"enabled": sorted(enabled),
            "waiting_for_import": sorted(_BY_MODULE[m].name for m in _waiting if m in _BY_MODULE)}


def autolog_hook(disable: bool = False) -> list[str]:
    """What ``llmops_nb.autolog()`` calls: framework capture on (or off), the names affected."""
    try:
        if disable:
            names = sorted(enabled) + sorted(_BY_MODULE[m].name for m in _waiting if m in _BY_MODULE)
            disable_frameworks()
            return names
        return enable_frameworks()
    except Exception as exc:  # noqa: BLE001 - autolog of the SDKs must work whatever happens here
        log_once("otel.autolog", exc)
        return []
