"""``compare()``: two versions of a prompt on the same data — score deltas and per-row output diffs.

Each version is one ``llmops_nb.evaluate()`` run: ``predict_fn`` bound to the loaded
``PromptVersion`` (a ``functools.partial`` that also links the row's trace to the version),
the run named after the version's URI (``prompts:/qa/2``). The two runs are then matched
row by row with ``llmops_nb.compare_runs()``; this module only adds output diffs (the view is
``_comparison_view``).
"""

from __future__ import annotations

import functools
from typing import Any

from .. import _display
from ._comparison_view import comparison_bundle, missing, number


def compare(name: str, version_a: Any, version_b: Any, data: Any, scorers: Any,  # noqa: PLR0917 - the issue's signature
            predict_fn: Any) -> PromptComparison:
    """Evaluate two versions of ``name`` on the same ``data`` with the same ``scorers``.

    ``predict_fn(prompt, **inputs)`` receives the ``PromptVersion`` first, then a row's inputs.
    ``data`` and ``scorers`` are what ``llmops_nb.evaluate()`` takes: rows of
    ``{"inputs": {...}, "expectations": {...}}`` (a list, DataFrame, Dataset or .jsonl/.csv path);
    scorers from ``llmops_nb.scorers``, judges from ``make_judge()``, or plain functions of any of
    ``inputs``, ``outputs``, ``expectations``, ``trace``. Versions are numbers or aliases
    (``"production"``, ``"latest"``); ``version_a`` is the baseline, ``version_b`` the candidate.

    Each version is an evaluation run named after its URI, so
    ``llmops_nb.eval_runs(name="prompts:/qa/2")`` lists a version's runs, and every row's
    trace records the version (``llmops_nb.traces(prompt="qa@2")``).

    >>> from llmops_nb import prompts
    >>> def predict(prompt, question):
    ...     return prompt.format(question=question).upper()
    >>> def shouts(outputs):
    ...     return outputs.isupper()
    >>> prompts.compare("qa", 1, 2, [{"inputs": {"question": "why?"}}], [shouts], predict)  # doctest: +SKIP
    """
    from ..evals import compare_runs, evaluate
    from ._registry import get

    if not callable(predict_fn):
        raise TypeError("predict_fn must be a function called as predict_fn(prompt, **inputs), e.g. "
                        "def predict(prompt, question): return call_llm(prompt.format(question=question)).")
    a, b = get(name, **_ref(version_a)), get(name, **_ref(version_b))
    with _display.muted(_display.EVALUATION):  # the comparison is the view; no table per run
        results_a = evaluate(data, predict_fn=_bind(predict_fn, a), scorers=scorers, name=a.uri)
        results_b = evaluate(data, predict_fn=_bind(predict_fn, b), scorers=scorers, name=b.uri)
    return PromptComparison(a, b, results_a, results_b, compare_runs(results_a, results_b))


def _ref(version: Any) -> dict[str, Any]:
    if isinstance(version, str) and not version.isdigit():
        return {"alias": version}
    return {"version": version}


class _BoundPrompt(functools.partial):
    """``predict_fn`` with the prompt version as its first argument; records the version on the row's span.

    A ``partial``, so ``evaluate()`` sees the remaining parameters (the inputs' names) and whether
    the function is async; the row's root span is current when it is called.
    """

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        from ._link import link_current_span

        link_current_span(self.args[0])
        return super().__call__(*args, **kwargs)


def _bind(predict_fn: Any, prompt: Any) -> _BoundPrompt:
    bound = _BoundPrompt(predict_fn, prompt)
    # stored as the run's predict_fn: the user's function, not this wrapper (no __wrapped__: the signature
    # evaluate() checks must be the partial's, without the prompt parameter)
    for attribute in ("__module__", "__name__", "__qualname__"):
        value = getattr(predict_fn, attribute, None)
        if isinstance(value, str):
            setattr(bound, attribute, value)
    return bound


class PromptComparison:
    """The result of ``compare()``.

    - ``table``: ``compare_runs()``'s DataFrame (one row per data row, indexed by ``record_id``):
      ``inputs``, ``outputs/baseline``, ``outputs/candidate``, ``outputs_changed``, per scorer
      ``<scorer>/baseline``, ``/candidate``, ``/delta`` and ``/outcome`` (win, loss, tie); its
      ``attrs`` name both runs, so ``llmops_nb.widgets.eval_table(comparison.table)`` opens it.
    - ``summary``: per scorer, both means, the delta and win/loss/tie counts.
    - ``results_a`` / ``results_b``: each version's ``evaluate()`` DataFrame (``run_id_a``/``run_id_b``).
    - ``output_diff(row)``, ``template_diff``: word-level diffs.

    It displays as the EvalTable comparing the two runs, titled by the versions' URIs
    (``_comparison_view``); without ``%load_ext llmops_nb``, as a plain table.
    """

    def __init__(self, a: Any, b: Any, results_a: Any, results_b: Any, table: Any) -> None:
        self.a, self.b = a, b
        self.results_a, self.results_b = results_a, results_b
        changed = [not _same(x, y) for x, y in zip(table["outputs/baseline"], table["outputs/candidate"],
                                                   strict=True)]
        table.insert(table.columns.get_loc("outputs/candidate") + 1, "outputs_changed", changed)
        self.table = table
        self.scorers = list(table.attrs.get("summary", {}))

    @property
    def run_id_a(self) -> str:
        return self.results_a.attrs["run_id"]

    @property
    def run_id_b(self) -> str:
        return self.results_b.attrs["run_id"]

    @property
    def template_diff(self) -> Any:
        from .._diff import diff

        return diff(self.a, self.b)

    def output_diff(self, row: int | str) -> Any:
        """The word-level diff of one row's outputs (a ``Diff``); ``row`` is a position or a ``record_id``."""
        from .._diff import diff

        found = self.table.loc[row] if isinstance(row, str) else self.table.iloc[row]
        return diff(found["outputs/baseline"], found["outputs/candidate"],
                    a_label=f"v{self.a.version} output", b_label=f"v{self.b.version} output")

    @property
    def summary(self) -> Any:
        """Per scorer: mean of each version (booleans and yes/no count as 1/0), delta, wins/losses/ties."""
        import pandas as pd

        label_a, label_b = self._labels()
        rows = []
        for name, counts in self.table.attrs.get("summary", {}).items():
            mean_a, mean_b = number(counts["mean_baseline"]), number(counts["mean_candidate"])
            rows.append({"scorer": name, f"mean_{label_a}": mean_a, f"mean_{label_b}": mean_b,
                         "delta": mean_b - mean_a, "win": counts["win"], "loss": counts["loss"],
                         "tie": counts["tie"]})
        return pd.DataFrame(rows).set_index("scorer") if rows else pd.DataFrame()

    def _labels(self) -> tuple[str, str]:
        a, b = f"v{self.a.version}", f"v{self.b.version}"
        return (a, b) if a != b else (f"{a}_a", f"{b}_b")

    def __repr__(self) -> str:
        return (f"<PromptComparison {self.a.uri} vs {self.b.uri}: {len(self.table)} rows, "
                f"scorers {self.scorers}, runs {self.run_id_a} vs {self.run_id_b}>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return comparison_bundle(self)


def _same(a: Any, b: Any) -> bool:
    if missing(a) and missing(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and other values without a single truth value
        return repr(a) == repr(b)
