"""``compare()``: two versions of a prompt on the same data — score deltas and per-row output diffs."""

from __future__ import annotations

import html
import math
from typing import Any

from ._evaluate import check_scorers, evaluate_version, rows_of, scorer_name

_TRUE = {"yes", "true", "pass", "passed", "correct"}
_FALSE = {"no", "false", "fail", "failed", "incorrect"}
HTML_ROWS = 50


def compare(name: str, version_a: Any, version_b: Any, data: Any, scorers: Any,  # noqa: PLR0917 - the issue's signature
            predict_fn: Any) -> PromptComparison:
    """Evaluate two versions of ``name`` on the same ``data`` with the same ``scorers``.

    ``predict_fn(prompt, **inputs)`` receives the ``PromptVersion`` first, then a row's inputs;
    ``data`` rows are ``{"inputs": {...}, "expectations": {...}}`` (MLflow's shape) or plain input
    dicts; a scorer is a function of any of ``inputs``, ``outputs``, ``expectations``, ``trace``
    (the row's trace id) returning a value, or ``{"value": ..., "rationale": ...}``.
    Versions are numbers or aliases (``"production"``, ``"latest"``).

    >>> from llmops_nb import prompts
    >>> def predict(prompt, question):
    ...     return prompt.format(question=question).upper()
    >>> def shouts(outputs):
    ...     return outputs.isupper()
    >>> prompts.compare("qa", 1, 2, [{"question": "why?"}], [shouts], predict)  # doctest: +SKIP
    """
    from ._registry import get

    if not callable(predict_fn):
        raise TypeError("predict_fn must be a function called as predict_fn(prompt, **inputs), e.g. "
                        "def predict(prompt, question): return call_llm(prompt.format(question=question)).")
    a, b = get(name, **_ref(version_a)), get(name, **_ref(version_b))
    rows, scorers = rows_of(data), check_scorers(scorers)
    return PromptComparison(a, b, evaluate_version(a, rows, scorers, predict_fn),
                            evaluate_version(b, rows, scorers, predict_fn), [scorer_name(s) for s in scorers])


def _ref(version: Any) -> dict[str, Any]:
    if isinstance(version, str) and not version.isdigit():
        return {"alias": version}
    return {"version": version}


class PromptComparison:
    """The result of ``compare()``: ``table`` (per row), ``summary`` (per scorer), diffs, rich display."""

    def __init__(self, a: Any, b: Any, results_a: Any, results_b: Any, scorers: list[str]) -> None:
        self.a, self.b = a, b
        self.results_a, self.results_b = results_a, results_b
        self.scorers = scorers

    @property
    def template_diff(self) -> Any:
        from .._diff import diff

        return diff(self.a, self.b)

    def output_diff(self, row: int) -> Any:
        """The word-level diff of row ``row``'s outputs (a ``Diff``)."""
        from .._diff import diff

        return diff(self.results_a["outputs"][row], self.results_b["outputs"][row],
                    a_label=f"v{self.a.version} output", b_label=f"v{self.b.version} output")

    @property
    def table(self) -> Any:
        """One row per data row: inputs, both outputs, whether they differ, per scorer a, b and delta."""
        import pandas as pd

        ra, rb = self.results_a, self.results_b
        frame = pd.DataFrame({"row": ra["row"], "inputs": ra["inputs"], "expectations": ra["expectations"],
                              "output_a": ra["outputs"], "output_b": rb["outputs"]})
        frame["outputs_changed"] = [_norm(x) != _norm(y) for x, y in zip(ra["outputs"], rb["outputs"], strict=True)]
        for name in self.scorers:
            frame[f"{name}/a"], frame[f"{name}/b"] = ra[f"{name}/value"], rb[f"{name}/value"]
            frame[f"{name}/delta"] = [_delta(x, y) for x, y in zip(ra[f"{name}/value"], rb[f"{name}/value"],
                                                                    strict=True)]
        frame["trace_id_a"], frame["trace_id_b"] = ra["trace_id"], rb["trace_id"]
        return frame

    @property
    def summary(self) -> Any:
        """Per scorer: mean of each version (yes/no and booleans count as 1/0), delta, rows better/worse."""
        import pandas as pd

        table = self.table
        rows = []
        for name in self.scorers:
            xs = [_number(v) for v in table[f"{name}/a"]]
            ys = [_number(v) for v in table[f"{name}/b"]]
            deltas = [d for d in table[f"{name}/delta"] if d is not None and not math.isnan(d)]
            mean_a, mean_b = _mean(xs), _mean(ys)
            rows.append({"scorer": name, f"mean_v{self.a.version}": mean_a, f"mean_v{self.b.version}": mean_b,
                         "delta": mean_b - mean_a if not (math.isnan(mean_a) or math.isnan(mean_b)) else math.nan,
                         "improved": sum(d > 0 for d in deltas), "regressed": sum(d < 0 for d in deltas),
                         "unchanged": sum(d == 0 for d in deltas)})
        return pd.DataFrame(rows).set_index("scorer") if rows else pd.DataFrame()

    def __repr__(self) -> str:
        return f"<PromptComparison {self.a.uri} vs {self.b.uri}: {len(self.results_a)} rows, scorers {self.scorers}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        summary = self.summary
        text = [f"{self.a.name}: v{self.a.version} vs v{self.b.version} on {len(self.results_a)} rows",
                summary.to_string() if len(summary) else "(no scorers)", "", self.template_diff.unified]
        return {"text/plain": "\n".join(text), "text/html": self._html(summary)}

    def _html(self, summary: Any) -> str:
        esc = html.escape
        table = self.table
        head = "".join(f"<th>{esc(str(c))}</th>" for c in ["scorer", *summary.columns])
        body = "".join("<tr><td>" + esc(str(index)) + "</td>" + "".join(
            f"<td>{esc(_fmt(v))}</td>" for v in row) + "</tr>" for index, row in summary.iterrows())
        rows = []
        for i in range(min(len(table), HTML_ROWS)):
            scores = " ".join(f"{esc(n)}: {esc(_fmt(table[f'{n}/a'][i]))}→{esc(_fmt(table[f'{n}/b'][i]))}"
                              for n in self.scorers)
            out = self.output_diff(i).html() if table["outputs_changed"][i] else "<i>same output</i>"
            rows.append(f'<tr><td style="vertical-align:top">{i}</td><td style="vertical-align:top;'
                        f'white-space:pre-wrap">{esc(_fmt(table["inputs"][i]))}</td>'
                        f'<td style="vertical-align:top">{scores}</td><td>{out}</td></tr>')
        more = f"<div>… {len(table) - HTML_ROWS} more rows in .table</div>" if len(table) > HTML_ROWS else ""
        return ('<div class="llmops-nb-compare" style="font-size:12px">'
                f"<b>{esc(self.a.name)}</b>: v{self.a.version} vs v{self.b.version} · {len(table)} rows"
                f"<table><tr>{head}</tr>{body}</table>"
                f"<details><summary>Template diff</summary>{self.template_diff.html()}</details>"
                f"<table><tr><th>row</th><th>inputs</th><th>scores</th><th>output diff</th></tr>"
                f"{''.join(rows)}</table>{more}</div>")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return 1.0 if value.strip().lower() in _TRUE else 0.0
    return math.nan


def _delta(a: Any, b: Any) -> float | None:
    x, y = _number(a), _number(b)
    return None if math.isnan(x) or math.isnan(y) else y - x


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _norm(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3g}"
    return str(value)
