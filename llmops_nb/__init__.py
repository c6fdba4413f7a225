"""llmops_nb: LLM tracing inside the Jupyter notebook, stored in one local DuckDB file.

>>> import llmops_nb
>>> @llmops_nb.trace(kind="TOOL")
... def lookup(city):
...     return {"city": city, "temp_c": 21}
>>> lookup("Paris")["temp_c"]
21

In a notebook: ``%load_ext llmops_nb`` then ``%%llm_trace`` on a cell.
Heavy dependencies (DuckDB, pandas, IPython, the provider SDKs) load only when
a function that needs them is first called.
"""

from __future__ import annotations

from typing import Any

from . import _runtime
from ._errors import LlmopsError as LlmopsError
from ._runtime import configure as configure
from ._runtime import status as status
from .tracing import SpanKind as SpanKind
from .tracing import flush as flush
from .tracing import get_current_span as get_current_span
from .tracing import span as span
from .tracing import trace as trace

_runtime.install()  # the store's recorder receives every span this process ends
_runtime.start_replay_from_environment()

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The JupyterLab / Notebook 7 extension in this package (``jupyter labextension develop .``); the wheel
    installs it into share/jupyter/labextensions/ (pyproject.toml)."""
    return [{"src": "labextension", "dest": "@llmops-nb/saved-views"}]


# Loaded on first use: these import DuckDB/pandas/IPython/SDKs.
_LAZY = {
    "traces": ("llmops_nb.store._queries", "traces"),
    "spans": ("llmops_nb.store._queries", "spans"),
    "sql": ("llmops_nb.store._queries", "sql"),
    "get_trace": ("llmops_nb._trace", "get_trace"),
    "Trace": ("llmops_nb._trace", "Trace"),
    "autolog": ("llmops_nb._autolog", "autolog"),
    "show": ("llmops_nb.widgets", "show"),
    "StoreError": ("llmops_nb.store._errors", "StoreError"),
    "StoreLockedError": ("llmops_nb.store._errors", "StoreLockedError"),
    "StoreEncryptionError": ("llmops_nb.store._errors", "StoreEncryptionError"),
    "StoreKeyError": ("llmops_nb.store._errors", "StoreKeyError"),
    "diff": ("llmops_nb._diff", "diff"),
    "Diff": ("llmops_nb._diff", "Diff"),
    "prompts": ("llmops_nb.prompts", ""),
    "gateway": ("llmops_nb.gateway", ""),
    "monitor": ("llmops_nb.monitor", ""),
    "metrics": ("llmops_nb.monitor._metrics", "metrics"),
    "dashboard": ("llmops_nb.monitor._dashboard", "dashboard"),
    "graph": ("llmops_nb.widgets.graph", "graph"),
    "sessions_view": ("llmops_nb.widgets.sessions._widget", "sessions_view"),
    "SimulatedUser": ("llmops_nb.evals", "SimulatedUser"),
    "compare_versions": ("llmops_nb.monitor._compare", "compare_versions"),
    "agents": ("llmops_nb.agents", ""),
    "sessions": ("llmops_nb.agents", "sessions"),
    "hotspots": ("llmops_nb.agents", "hotspots"),
    "export_html": ("llmops_nb._export", "export_html"),
    "aevaluate": ("llmops_nb.evals", "aevaluate"),
    "assessments": ("llmops_nb.evals", "assessments"),
    "compare_runs": ("llmops_nb.evals", "compare_runs"),
    "datasets": ("llmops_nb.evals", "datasets"),
    "eval_results": ("llmops_nb.evals", "eval_results"),
    "eval_runs": ("llmops_nb.evals", "eval_runs"),
    "evaluate": ("llmops_nb.evals", "evaluate"),
    "EvaluationInterrupted": ("llmops_nb.evals", "EvaluationInterrupted"),
    "feedback": ("llmops_nb.evals", "feedback"),
    "log_feedback": ("llmops_nb.evals", "log_feedback"),
    "make_judge": ("llmops_nb.evals", "make_judge"),
    "Score": ("llmops_nb.evals", "Score"),
    "scorer": ("llmops_nb.evals", "scorer"),
    "scorers": ("llmops_nb.evals", "scorers"),
    "get_model": ("llmops_nb.models", "get_model"),
    "receive": ("llmops_nb.otel._receiver", "receive"),
    "export_otlp": ("llmops_nb.otel._export", "export_otlp"),
    "export_parquet": ("llmops_nb.store._parquet_export", "export_parquet"),
    "import_traces": ("llmops_nb.otel._import", "import_traces"),
    "replay": ("llmops_nb.replay", ""),
    "pii": ("llmops_nb.pii", ""),
    "find_pii": ("llmops_nb.pii", "find_pii"),
    "redact_pii": ("llmops_nb.pii", "redact_pii"),
    "guardrail": ("llmops_nb.guardrails", "guardrail"),
    "guardrails": ("llmops_nb.guardrails", ""),
    "GuardrailError": ("llmops_nb.guardrails", "GuardrailError"),
    "apply_retention": ("llmops_nb.store._retention", "apply_retention"),
    "audit": ("llmops_nb.store._audit", "audit"),
    "erase": ("llmops_nb.store._erase", "erase"),
    "verify_audit": ("llmops_nb.store._audit", "verify_audit"),
}

__all__ = [
    "Diff",
    "EvaluationInterrupted",
    "GuardrailError",
    "LlmopsError",
    "Score",
    "SimulatedUser",
    "SpanKind",
    "StoreEncryptionError",
    "StoreError",
    "StoreKeyError",
    "StoreLockedError",
    "Trace",
    "aevaluate",
    "agents",
    "apply_retention",
    "assessments",
    "audit",
    "autolog",
    "compare_runs",
    "compare_versions",
    "configure",
    "dashboard",
    "datasets",
    "diff",
    "erase",
    "eval_results",
    "eval_runs",
    "evaluate",
    "export_html",
    "export_otlp",
    "export_parquet",
    "feedback",
    "find_pii",
    "flush",
    "gateway",
    "get_current_span",
    "get_model",
    "get_trace",
    "graph",
    "guardrail",
    "guardrails",
    "hotspots",
    "import_traces",
    "load_ipython_extension",
    "log_feedback",
    "make_judge",
    "metrics",
    "monitor",
    "pii",
    "prompts",
    "receive",
    "redact_pii",
    "replay",
    "scorer",
    "scorers",
    "sessions",
    "sessions_view",
    "show",
    "span",
    "spans",
    "sql",
    "status",
    "trace",
    "traces",
    "unload_ipython_extension",
    "verify_audit",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'llmops_nb' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target[0])
    value = getattr(module, target[1]) if target[1] else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llmops_nb``: registers %%llm_trace, %llm_autotrace and %llm_sql."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload

    unload(ipython)
