"""What ``compare_versions`` returns: the numbers, the verdict in words, and its notebook view."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .._html import Markup, tag

WORSE, BETTER, SAME, UNTESTED = "worse", "better", "no significant difference", "not enough data"


@dataclass(frozen=True)
class Comparison:
    """Traces of ``b`` against traces of ``a`` on one metric: is ``b`` worse, better, or not clearly different?

    ``difference`` is ``mean_b - mean_a`` (for rates, the difference of the rates) with its CI at
    ``1 - alpha``; ``verdict`` is ``"worse"``, ``"better"``, ``"no significant difference"`` or
    ``"not enough data"`` (then ``message`` says what was missing and the test fields are None).
    ``other_tests``: further p-values (Mann–Whitney U for continuous metrics). ``excluded``: traces
    that matched both sides (a session that used both versions), left out of both.
    """

    a: str
    b: str
    metric: str
    verdict: str
    message: str
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str | None = None
    effect_size: float | None = None
    effect_name: str | None = None
    alpha: float = 0.05
    lower_is_better: bool = False
    kind: str = "mean"  # "mean" or "rate"
    other_tests: dict[str, float] = field(default_factory=dict)
    excluded: int = 0

    @property
    def significant(self) -> bool:
        return self.verdict in (WORSE, BETTER)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python values (JSON-ready: missing numbers are None, never NaN)."""
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        return f"<Comparison {self.metric}: {self.b} vs {self.a}: {self.verdict}>\n{self.message}"

    def _repr_html_(self) -> str:
        show = _percent if self.kind == "rate" else _num
        rows = [("traces", self.n_a, self.n_b), (self.kind, show(self.mean_a), show(self.mean_b))]
        head = tag("tr", tag("th", ""), tag("th", "a: ", self.a), tag("th", "b: ", self.b))
        body = Markup().join(tag("tr", tag("th", label), tag("td", x), tag("td", y)) for label, x, y in rows)
        facts = [("difference (b − a)", show(self.difference, signed=True)),
                 (f"{1 - self.alpha:.0%} CI", None if self.ci_low is None else
                  f"{show(self.ci_low, signed=True)} to {show(self.ci_high, signed=True)}"),
                 ("test", None if self.test is None else f"{self.test}, {_p(self.p_value)}"),
                 (self.effect_name or "effect size", _num(self.effect_size)),
                 *((name, _p(p)) for name, p in self.other_tests.items()),
                 ("excluded (matched both)", self.excluded or None)]
        details = Markup().join(tag("tr", tag("th", k), tag("td", v, colspan=2)) for k, v in facts if v is not None)
        color = {WORSE: "#cf222e", BETTER: "#1a7f37"}.get(self.verdict, "inherit")
        return tag("div", tag("p", tag("b", self.metric, ": ", self.verdict, style=f"color:{color}"), " — ",
                              self.message),
                   tag("table", tag("thead", head), tag("tbody", body, details)), class_="lnb-comparison")


def sentence(result: Comparison) -> str:
    """The verdict in words, with the numbers that back it (b's first: b is the one judged)."""
    a, b, metric = result.a, result.b, result.metric
    rate = result.kind == "rate"
    show = _percent if rate else _num
    numbers = (f"{'rate' if rate else 'mean'} {show(result.mean_b)} vs {show(result.mean_a)}, difference "
               f"{show(result.difference, signed=True)} ({1 - result.alpha:.0%} CI {show(result.ci_low, signed=True)} "
               f"to {show(result.ci_high, signed=True)}), {result.test}, n={result.n_b} vs {result.n_a}")
    test = f"{_p(result.p_value)}, α={result.alpha:g}"
    direction = "lower" if result.lower_is_better else "higher"
    if result.verdict == SAME:
        return f"No significant difference between {b} and {a} on {metric} ({test}): {numbers}."
    return f"{b} is {result.verdict} than {a} on {metric} ({test}): {numbers}; {direction} is better."


def _percent(value: Any, *, signed: bool = False) -> str | None:
    """A rate as a percentage; a difference of rates in percentage points."""
    if value is None:
        return None
    return f"{value * 100:+.1f} pp" if signed else f"{value:.1%}"


def _num(value: Any, *, signed: bool = False) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _p(value: float | None) -> str:
    """``p=0.012``, ``p<0.0001``."""
    if value is None:
        return "p=—"
    if value < 1e-4:
        return "p<0.0001"
    return f"p={value:.4f}" if value < 0.01 else f"p={value:.3f}"
