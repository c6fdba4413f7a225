"""OpenTelemetry in and out: OTel spans into the store, an OTLP receiver, OTLP export, trace import.

- :func:`install` — the in-process bridge: every OTel span this process ends is stored like ours,
  OpenInference and GenAI attributes mapped to our kinds, payloads, messages, tokens and cost
  (``_bridge.py``, ``_mapping.py``); our spans and OTel's nest in one tree (``_context.py``).
- ``llmops_nb.autolog()`` also turns on the OpenInference instrumentor of each installed framework
  (``_frameworks.py``).
- :func:`receive` — an OTLP/HTTP endpoint in the kernel for other processes (``_receiver.py``).
- :func:`export_otlp` and ``configure(otlp_endpoint=...)`` — stored and live spans out as OTLP
  (``_export.py``, ``_forward.py``).
- :func:`import_traces` — traces from MLflow or OTLP-JSON files into the store (``_import.py``).

Importing this package loads nothing of OpenTelemetry; each function loads what it needs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_otlp", "import_traces", "install", "receive", "status", "stop_receiving"]

_LAZY = {
    "install": ("._bridge", "install"),
    "receive": ("._receiver", "receive"),
    "stop_receiving": ("._receiver", "stop_receiving"),
    "export_otlp": ("._export", "export_otlp"),
    "import_traces": ("._import", "import_traces"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'llmops_nb.otel' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0], __name__), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def status() -> dict[str, Any]:
    """What the bridge, the receiver and the forwarder did, for ``llmops_nb.status()``; loads nothing new."""
    import sys

    out: dict[str, Any] = {}
    for key, module in (("bridge", "llmops_nb.otel._bridge"), ("receiver", "llmops_nb.otel._receiver"),
                        ("forwarder", "llmops_nb.otel._forward"), ("frameworks", "llmops_nb.otel._frameworks")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            out[key] = loaded.status()
    return out
