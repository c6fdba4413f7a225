"""``compare_versions``: did prompt version 7 (or the new model) make production worse than version 6?

Each side is the set of finished traces in the window that used one prompt version (any span that
loaded or formatted it: ``prompts/_filter.py``) or called one model (an LLM span with that model).
A trace that matched both sides — a session that tried both versions, a fallback between the two
models — is left out of both, so the samples stay independent; ``Comparison.excluded`` counts them.
Each side's per-trace values come from one parameterized query; the tests are ``_compare_stats.py``'s.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from .._errors import did_you_mean
from ..store._queries import CLOCK_SLACK_NS
from ._compare_result import BETTER, SAME, UNTESTED, WORSE, Comparison, sentence
from ._compare_stats import continuous, proportions, scipy_stats
from ._metrics import _store
from ._metrics_args import parse_window
from ._metrics_frame import FIXED_COLUMNS
from ._metrics_sql import LLM_KINDS, TTFT_ATTRIBUTE
from ._where import TRAFFIC, check_where

_TTFT = f"TRY_CAST(try(json_extract_string(s.attributes, '$.\"{TTFT_ATTRIBUTE}\"')) AS DOUBLE)"
#: per-trace metrics: SQL over ``traces t`` and whether lower is better
TRACE_METRICS: dict[str, tuple[str, bool]] = {
    "latency_ms": ("(t.end_ns - t.start_ns) / 1e6", True),
    "error_rate": ("CAST(t.status = 'ERROR' AS INTEGER)", True),
    "cost_usd": ("t.cost_usd", True),
    "input_tokens": ("CAST(t.input_tokens AS DOUBLE)", True),
    "output_tokens": ("CAST(t.output_tokens AS DOUBLE)", True),
    # the first streamed LLM call's time to first token, as metrics() reads it (try: a payload cut short is no JSON)
    "ttft_ms": (f"(SELECT arg_min({_TTFT}, s.start_ns) FILTER (WHERE {_TTFT} IS NOT NULL) FROM spans s "
                f"WHERE s.trace_id = t.trace_id AND s.kind IN {LLM_KINDS} "
                f"AND contains(s.attributes, '\"{TTFT_ATTRIBUTE}\"'))", True),
}
_RATES = {"error_rate"}
#: metrics() columns that are per time window only (counts, percentiles): a user may reach for them here
_ALERT_ONLY = {c for columns in FIXED_COLUMNS.values() for c in columns} - set(TRACE_METRICS)
#: a model's traces; its spans start after the trace (less another process's clock skew): the bound skips old row groups
_LLM_SPAN = f"SELECT trace_id FROM spans WHERE kind IN {LLM_KINDS} AND model = ? AND start_ns >= ?"


#: a string that names a prompt version rather than a model ("openai/gpt-4o" is a model, "support/6" a version)
_PROMPT_REF = re.compile(r"prompts:/|[^@]+@|[A-Za-z0-9][A-Za-z0-9_.\-]*/[0-9]+$")


@dataclass(frozen=True)
class _Metric:
    name: str
    sql: str | None  # a per-trace value over traces t; None for a scorer's
    scorer: str | None  # the assessments' name
    column: str  # value_number or passed (a scorer's)
    rate: bool
    lower_is_better: bool


@dataclass(frozen=True)
class _Scope:
    """Which traces: started in [since_ns, until_ns), and the user's filter over traces t."""

    since_ns: int
    until_ns: int
    where: str
    params: list[Any]


@dataclass(frozen=True)
class _Side:
    label: str
    clause: str  # a predicate over traces t
    params: list[Any]
    is_model: bool


def compare_versions(a: Any, b: Any, metric: str, *, prompt: str | None = None, model: bool = False,
                     since: Any = "7d", until: Any = None, where: str | None = None, params: Any = None,
                     alpha: float = 0.05, lower_is_better: bool | None = None, store: Any = None) -> Comparison:
    """Compare production traces of ``a`` with those of ``b`` on ``metric``: is ``b`` worse, better, or the same?

    The sides, by what ``a`` and ``b`` are:

    - prompt versions: ``"support@6"``, ``"support/6"``, ``"prompts:/support/6"``,
      ``"support@production"`` (the version the alias points to now) or a ``PromptVersion``; or,
      with ``prompt="support"``, just the versions (``6``, ``7``, ``"production"``);
    - models: any other string (``"gpt-4o-mini"``, ``"openai/gpt-4o"``), matched against the model of
      the traces' LLM spans. Pass ``model=True`` for a model name that reads like a prompt version
      (``"claude-3-5-sonnet@20240620"``).

    ``metric``: a scorer's name (the mean of its newest value per trace), ``"<scorer>/pass_rate"``,
    ``"error_rate"``, ``"latency_ms"``, ``"cost_usd"``, ``"input_tokens"``, ``"output_tokens"`` or
    ``"ttft_ms"``. Lower is better for all but scores; ``lower_is_better=True`` says so for a score
    like toxicity. ``since``/``until``: when the traces started (the last ``"7d"`` by default);
    ``where``/``params``: a further SQL filter over traces aliased ``t`` (``where="t.name = ?"``).

    Means get Welch's t-test (and Mann–Whitney U), rates a two-proportion test (Fisher's exact for
    small counts), both at ``alpha``: see ``llmops_nb/monitor/_compare_stats.py``. Needs scipy:
    ``pip install 'llmops_nb[monitor]'``.

    >>> from llmops_nb.monitor import compare_versions
    >>> compare_versions("support@6", "support@7", "correctness")  # doctest: +SKIP
    <Comparison correctness: support@7 vs support@6: worse>
    >>> compare_versions(6, 7, "latency_ms", prompt="support", since="24h")  # doctest: +SKIP
    >>> compare_versions("gpt-4o-mini", "gpt-4.1-mini", "error_rate")  # doctest: +SKIP
    """
    scipy_stats()  # a missing scipy is said before any query runs
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise ValueError(f"alpha is the significance level, between 0 and 0.5 (e.g. 0.05); got {alpha!r}.")
    chosen = _metric(metric, lower_is_better)
    window = parse_window(since, until, None)  # metrics()' reading of since/until
    since_ns, until_ns = window.since_ns, window.until_ns
    side_a, side_b = _sides(a, b, prompt, model, since_ns)
    with _store(store).connect() as con:
        # the filter as metrics() takes it: one condition on traces t, reading nothing outside the store
        condition, values = check_where(where, params, what="compare_versions(where=...)", con=con)
        scope = _Scope(since_ns, until_ns, condition, values)
        values_a, excluded = _values(con, chosen, side_a, side_b, scope)
        values_b, _ = _values(con, chosen, side_b, side_a, scope)
    return _compare((side_a.label, values_a), (side_b.label, values_b), chosen, float(alpha), excluded)


def _metric(metric: Any, lower_is_better: bool | None) -> _Metric:
    if not isinstance(metric, str) or not metric.strip():
        raise TypeError(f"metric is a name like 'correctness', 'correctness/pass_rate' or 'latency_ms'; "
                        f"got {metric!r}.")
    if metric in TRACE_METRICS:
        sql, lower = TRACE_METRICS[metric]
        found = _Metric(metric, sql, None, "", metric in _RATES, lower)
    elif "/" in metric:
        name, _, stat = metric.rpartition("/")
        if stat != "pass_rate" or not name:
            raise ValueError(f"metric {metric!r}: a scorer's metrics are its name (the mean of its values) and "
                             f"'<scorer>/pass_rate'.{did_you_mean(stat, ['pass_rate'])}")
        found = _Metric(metric, None, name, "passed", True, False)
    elif metric in _ALERT_ONLY:
        raise ValueError(f"metric {metric!r} is per time window, not per trace (alert rules and metrics() have it). "
                         f"Compare on {', '.join(TRACE_METRICS)}, a scorer's name, or '<scorer>/pass_rate'.")
    else:  # a scorer's name; a typo of a trace metric ends as "not enough data" with a hint
        found = _Metric(metric, None, metric, "value_number", False, False)
    if lower_is_better is not None:
        found = _Metric(found.name, found.sql, found.scorer, found.column, found.rate, bool(lower_is_better))
    return found


def _sides(a: Any, b: Any, prompt: Any, model: Any, since_ns: int) -> tuple[_Side, _Side]:
    if prompt is not None and model:
        raise ValueError("Give prompt= (a and b are versions of that prompt) or model=True (a and b are models), "
                         "not both.")
    side_a, side_b = _side(a, "a", prompt, model, since_ns), _side(b, "b", prompt, model, since_ns)
    if side_a.is_model != side_b.is_model:
        raise ValueError(f"a ({side_a.label!r}) and b ({side_b.label!r}) are not the same kind: compare two prompt "
                         "versions ('support@6', 'support@7') or two models ('gpt-4o', 'gpt-4.1').")
    if side_a.label == side_b.label:
        raise ValueError(f"a and b are both {side_a.label!r}: compare two different versions or models.")
    return side_a, side_b


def _side(value: Any, which: str, prompt: Any, model: Any, since_ns: int) -> _Side:
    from ..prompts._filter import trace_filter
    from ..prompts._refs import check_name, parse_ref

    if model:
        if not isinstance(value, str) or not value:
            raise TypeError(f"With model=True, {which} is a model name like 'gpt-4o-mini'; got {value!r}.")
        return _Side(value, f"t.trace_id IN ({_LLM_SPAN})", [value, since_ns - CLOCK_SLACK_NS], is_model=True)
    if prompt is not None:
        check_name(prompt)
        bare = isinstance(value, str) and not any(mark in value for mark in "@/:")
        if bare or (isinstance(value, int) and not isinstance(value, bool)):
            value = f"{prompt}@{value}"
        elif not isinstance(value, str) and not hasattr(value, "version"):
            raise TypeError(f"With prompt={prompt!r}, {which} is a version (6), an alias ('production') or a "
                            f"reference ('{prompt}@6'); got {value!r}.")
    if hasattr(value, "name") and hasattr(value, "version"):  # a PromptVersion
        name, number = check_name(value.name), int(value.version)
    elif isinstance(value, str) and (prompt is not None or _PROMPT_REF.match(value)):
        name, version, alias = parse_ref(value)
        if prompt is not None and name != prompt:
            raise ValueError(f"{which}={value!r} names prompt {name!r}, but prompt={prompt!r}.")
        if version is None:
            from ..prompts._registry import resolve_version

            version = resolve_version(name, None, alias)  # an unknown alias raises PromptNotFoundError
        number = version
    elif isinstance(value, str) and value:
        return _Side(value, f"t.trace_id IN ({_LLM_SPAN})", [value, since_ns - CLOCK_SLACK_NS], is_model=True)
    else:
        raise TypeError(f"{which} is a prompt version ('support@6') or a model name ('gpt-4o-mini'); got {value!r}.")
    clause, clause_params = trace_filter(f"{name}/{number}")
    # the clause tests an unqualified trace_id; here it must be the outer trace's
    return _Side(f"{name}@{number}", "t." + clause, clause_params, is_model=False)


def _values(con: Any, metric: _Metric, side: _Side, other: _Side, scope: _Scope) -> tuple[list[float], int]:
    """One side's per-trace values, and how many of its traces were left out for matching the other side too."""
    chosen = (f"SELECT t.trace_id, {metric.sql or 'NULL'} AS v, ({other.clause}) AS both_sides FROM traces t "
              f"WHERE t.start_ns >= ? AND t.start_ns < ? AND t.end_ns IS NOT NULL AND {TRAFFIC} "
              f"AND ({side.clause}) AND {scope.where}")
    params = [*other.params, scope.since_ns, scope.until_ns, *side.params, *scope.params]
    if metric.scorer is None:
        query = f"WITH chosen AS ({chosen}) SELECT both_sides, v FROM chosen WHERE v IS NOT NULL"
    else:
        # the newest assessment with a verdict per trace and target (an online scorer may judge each LLM call):
        # a trace's value is the mean over its targets, and it passes when every target passed
        column = metric.column
        folded = "avg(n.x)" if column == "value_number" else "CAST(bool_and(n.x) AS INTEGER)"
        query = (f"WITH chosen AS ({chosen}), newest AS (SELECT a.trace_id, a.{column} AS x, row_number() OVER "
                 "(PARTITION BY a.trace_id, COALESCE(a.target_span_id, '') ORDER BY a.created_at DESC, "
                 f"a.assessment_id DESC) AS rank FROM assessments a WHERE a.name = ? AND a.{column} IS NOT NULL "
                 "AND a.trace_id IN (SELECT trace_id FROM chosen)) "
                 f"SELECT c.both_sides, {folded} FROM chosen c JOIN newest n ON n.trace_id = c.trace_id "
                 "AND n.rank = 1 GROUP BY c.trace_id, c.both_sides")
        params.append(metric.scorer)
    rows = con.execute(query, params).fetchall()
    return [float(v) for both, v in rows if not both], sum(1 for both, _ in rows if both)


def _compare(side_a: tuple[str, list[float]], side_b: tuple[str, list[float]], metric: _Metric, alpha: float,
             excluded: int) -> Comparison:
    import numpy as np

    (label_a, a), (label_b, b) = side_a, side_b
    values_a, values_b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    base: dict[str, Any] = {"a": label_a, "b": label_b, "metric": metric.name, "n_a": len(a), "n_b": len(b),
            "mean_a": float(np.mean(values_a)) if len(a) else None,
            "mean_b": float(np.mean(values_b)) if len(b) else None, "alpha": alpha,
            "lower_is_better": metric.lower_is_better, "kind": "rate" if metric.rate else "mean", "excluded": excluded}
    short = [f"{label} has {len(values)} trace{'' if len(values) == 1 else 's'} with a {metric.name} value"
             for label, values in ((label_a, a), (label_b, b)) if len(values) < 2]
    if short:
        hint = did_you_mean(metric.name, TRACE_METRICS) if metric.scorer == metric.name else ""
        return Comparison(verdict=UNTESTED, message=f"Not enough data to compare {metric.name}: {'; '.join(short)} "
                          f"(each side needs at least 2). Widen since=, or check the names.{hint}", **base)
    if not metric.rate and np.ptp(values_a) == 0 and np.ptp(values_b) == 0:
        return Comparison(verdict=UNTESTED, message=f"No test possible for {metric.name}: every value is "
                          f"{values_a[0]:g} for {label_a} and {values_b[0]:g} for {label_b} (zero variance on both "
                          "sides).", **base)
    if metric.rate:
        test = proportions(int(values_a.sum()), len(a), int(values_b.sum()), len(b), alpha)
    else:
        test = continuous(values_a, values_b, alpha)
    if test.p_value < alpha and test.difference != 0:
        verdict = BETTER if (test.difference < 0) == metric.lower_is_better else WORSE
    else:
        verdict = SAME
    result = Comparison(verdict=verdict, message="", difference=test.difference, ci_low=test.ci_low,
                        ci_high=test.ci_high, p_value=test.p_value, test=test.test, effect_size=test.effect_size,
                        effect_name=test.effect_name, other_tests=dict(test.other_tests), **base)
    return dataclasses.replace(result, message=sentence(result))

