"""The statistics behind ``compare_versions``: two independent samples, one test each, a CI and an effect size.

Continuous metrics (a score, latency, cost, tokens): Welch's t-test on the means — it does not assume
equal variances, which two prompt versions or two models rarely have — with the Welch–Satterthwaite
95% CI of the difference, Hedges' g (Cohen's d corrected for small samples), and Mann–Whitney U as a
second opinion that does not assume normality (latency is skewed).

Rates (pass rate, error rate): the two-proportion z-test when every expected count is at least 5
(Cochran's rule), else Fisher's exact test: exact and valid for tiny counts, where the z-test's normal
approximation is not. Boschloo's test is more powerful than Fisher's, but scipy's costs grow with
n_a·n_b and production samples run to thousands. The CI of the difference is Newcombe's hybrid score
interval (from two Wilson intervals): it keeps its coverage at rates near 0 or 1 — error rates mostly
are — where the Wald interval collapses to a width of zero. Effect size: Cohen's h.

Degenerate samples (fewer than 2 values a side, or both sides constant) get no test: the caller says so.
Nothing here divides by zero, so numpy never warns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

INSTALL_HINT = "pip install 'llmops_nb[monitor]'"


@dataclass(frozen=True)
class Test:
    """One comparison's numbers: b minus a, as b's change from a."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    effect_size: float
    effect_name: str
    other_tests: dict[str, float] = field(default_factory=dict)


def scipy_stats() -> Any:
    """``scipy.stats``, or an ImportError naming the extra that installs it."""
    try:
        from scipy import stats
    except ImportError:
        raise ImportError(f"compare_versions() needs scipy for its statistical tests: {INSTALL_HINT}") from None
    return stats


def continuous(a: Any, b: Any, alpha: float) -> Test:
    """Welch's t-test of mean(b) - mean(a); ``a``, ``b``: numpy arrays of at least 2 values, not both constant."""
    import numpy as np

    stats = scipy_stats()
    n_a, n_b = len(a), len(b)
    var_a, var_b = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    difference = float(np.mean(b) - np.mean(a))
    se_a, se_b = var_a / n_a, var_b / n_b
    se = math.sqrt(se_a + se_b)
    # Welch–Satterthwaite degrees of freedom; a side with zero variance contributes nothing
    df = (se_a + se_b) ** 2 / ((se_a**2 / (n_a - 1) if se_a else 0.0) + (se_b**2 / (n_b - 1) if se_b else 0.0))
    t = difference / se
    p_value = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    pooled = math.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
    hedges_g = difference / pooled * (1 - 3 / (4 * (n_a + n_b) - 9))
    mann_whitney = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    return Test(difference, difference - half, difference + half, p_value, "Welch's t-test", hedges_g,
                "Hedges' g", {"Mann–Whitney U": mann_whitney})


def proportions(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float) -> Test:
    """Rate b minus rate a (``x`` successes of ``n``); each ``n`` at least 1."""
    stats = scipy_stats()
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    expected = (n_a * pooled, n_b * pooled, n_a * (1 - pooled), n_b * (1 - pooled))
    if min(expected) >= 5:  # Cochran's rule: the normal approximation holds (and pooled is strictly in (0, 1))
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        p_value = float(2 * stats.norm.sf(abs(p_b - p_a) / se))
        name = "two-proportion z-test"
    else:
        p_value = float(stats.fisher_exact([[x_b, n_b - x_b], [x_a, n_a - x_a]]).pvalue)
        name = "Fisher's exact test"
    z = float(stats.norm.ppf(1 - alpha / 2))
    low_a, high_a = _wilson(x_a, n_a, z)
    low_b, high_b = _wilson(x_b, n_b, z)
    difference = p_b - p_a
    ci_low = difference - math.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2)
    ci_high = difference + math.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2)
    cohen_h = 2 * math.asin(math.sqrt(p_b)) - 2 * math.asin(math.sqrt(p_a))
    return Test(difference, ci_low, ci_high, min(p_value, 1.0), name, cohen_h, "Cohen's h")


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of the rate x/n."""
    p = x / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half), min(1.0, center + half)
