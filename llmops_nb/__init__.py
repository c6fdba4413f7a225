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
    "diff": ("llmops_nb._diff", "diff"),
    "Diff": ("llmops_nb._diff", "Diff"),
    "prompts": ("llmops_nb.prompts", ""),
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
}

__all__ = [
    "Diff",
    "EvaluationInterrupted",
    "LlmopsError",
    "Score",
    "SpanKind",
    "StoreError",
    "StoreLockedError",
    "Trace",
    "aevaluate",
    "assessments",
    "autolog",
    "compare_runs",
    "configure",
    "datasets",
    "diff",
    "eval_results",
    "eval_runs",
    "evaluate",
    "export_html",
    "export_otlp",
    "export_parquet",
    "feedback",
    "flush",
    "get_current_span",
    "get_model",
    "get_trace",
    "import_traces",
    "load_ipython_extension",
    "log_feedback",
    "make_judge",
    "prompts",
    "receive",
    "replay",
    "scorer",
    "scorers",
    "show",
    "span",
    "spans",
    "sql",
    "status",
    "trace",
    "traces",
    "unload_ipython_extension",
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
