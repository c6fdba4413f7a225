"""``compare_versions`` on a real store: traces made through the tracing API (a root, the prompt version
formatted inside it, an LLM span with its model), scores written as assessments, then compared."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

import numpy as np
import pytest

import llmops_nb
from llmops_nb import prompts
from llmops_nb.monitor._compare import compare_versions
from llmops_nb.monitor._compare_stats import continuous, proportions
from llmops_nb.store._connection import get_store
from llmops_nb.tracing import start_span
from llmops_nb.tracing._api import use_span

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def request(*, ms: float, version=None, model: str = "gpt-x", error: bool = False, hours_ago: float = 1.0,
            extra_version=None, ttft_ms: float | None = None) -> str:
    """One production request: a CHAIN root that formats ``version``, one CHAT_MODEL call to ``model``."""
    start = int((NOW - dt.timedelta(hours=hours_ago)).timestamp()) * 10**9
    root = start_span("support", kind="CHAIN", parent=False)
    root.start_ns = start
    with use_span(root):
        for used in (version, extra_version):
            if used is not None:
                used.format(question="where is my order?")
        attributes = {"gen_ai.request.model": model}
        if ttft_ms is not None:  # as integrations/_streams.py records a stream's first token
            attributes["llmops_nb.time_to_first_token_ms"] = ttft_ms
        call = start_span("chat", kind="CHAT_MODEL", attributes=attributes)
        call.start_ns = start + 1000
        call.end(end_ns=start + 2000)
    if error:
        root.set_status("ERROR", "upstream failed")
    root.end(end_ns=start + int(ms * 1e6))
    return root.trace_id


def score(trace_ids, values, name: str = "correctness", passed=None, *, ago_s: int = 60) -> None:
    """Assessments as an online scorer writes them (one per trace; ``passed`` defaults to value >= 0.5)."""
    assert llmops_nb.flush(timeout=30)
    at = (NOW - dt.timedelta(seconds=ago_s)).replace(tzinfo=None)
    rows = [(os.urandom(16).hex(), tid, name, json.dumps(v), float(v), bool(v >= 0.5) if passed is None else p, at)
            for tid, v, p in zip(trace_ids, values, passed or [None] * len(values), strict=True)]
    with get_store().connect() as con:
        con.executemany("INSERT INTO assessments (assessment_id, trace_id, name, source_type, value, value_number, "
                        "passed, created_at) VALUES (?, ?, ?, 'CODE', ?, ?, ?, ?)", rows)


@pytest.fixture
def versions():
    v1 = prompts.register("support", "Answer: {{question}}")
    v2 = prompts.register("support", "Answer politely: {{question}}")
    return v1, v2


def test_an_injected_regression_is_worse(versions):
    v1, v2 = versions
    rng = np.random.default_rng(7)
    ids_a = [request(ms=ms, version=v1) for ms in rng.normal(200, 20, 40)]
    ids_b = [request(ms=ms, version=v2) for ms in rng.normal(260, 20, 40)]
    score(ids_a, rng.normal(0.8, 0.1, 40))
    score(ids_b, rng.normal(0.6, 0.1, 40))

    latency = compare_versions("support@1", "support@2", "latency_ms")
    assert latency.verdict == "worse" and latency.p_value < 0.05 and latency.lower_is_better
    assert (latency.n_a, latency.n_b) == (40, 40) and latency.test == "Welch's t-test"
    assert latency.ci_low < latency.difference < latency.ci_high and latency.ci_low > 0  # b is slower
    assert latency.effect_name == "Hedges' g" and latency.effect_size > 1
    assert latency.other_tests["Mann–Whitney U"] < 0.05
    assert latency.message.startswith("support@2 is worse than support@1") and "α=0.05" in latency.message

    correctness = compare_versions(1, 2, "correctness", prompt="support")  # versions of one prompt
    assert correctness.verdict == "worse" and correctness.difference < 0 and not correctness.lower_is_better
    assert correctness.mean_a == pytest.approx(0.8, abs=0.05)
    # read the other way round, the old version is better
    assert compare_versions(v2, v1, "correctness").verdict == "better"


def test_identical_distributions_differ_not_significantly(versions):
    v1, v2 = versions
    values = np.random.default_rng(3).lognormal(5, 0.5, 30)
    for ms in values:
        request(ms=ms, version=v1)
    for ms in values[::-1]:
        request(ms=ms, version=v2)
    result = compare_versions("support/1", "prompts:/support/2", "latency_ms")
    assert result.verdict == "no significant difference" and result.p_value > 0.05
    assert result.ci_low < 0 < result.ci_high and result.message.startswith("No significant difference")


def test_models_compared_on_error_rate():
    for i in range(60):
        request(ms=100, model="gpt-4o-mini", error=i < 3)
        request(ms=100, model="gpt-4.1-mini", error=i < 24)
    result = compare_versions("gpt-4o-mini", "gpt-4.1-mini", "error_rate")
    assert result.verdict == "worse" and result.kind == "rate"
    assert result.mean_a == pytest.approx(0.05) and result.mean_b == pytest.approx(0.4)
    assert result.test == "two-proportion z-test" and result.effect_name == "Cohen's h" and result.p_value < 0.001
    assert result.ci_low < 0.35 < result.ci_high
    for ttft in (80, 90, 100):
        request(ms=500, model="gpt-4o-mini", ttft_ms=ttft)
        request(ms=500, model="gpt-4.1-mini", ttft_ms=ttft - 40)
    faster = compare_versions("gpt-4o-mini", "gpt-4.1-mini", "ttft_ms")
    assert (faster.n_a, faster.mean_a, faster.mean_b) == (3, 90, 50)  # the calls without a first token: not counted
    assert faster.verdict == "better"
    # a model name with "@" in it (Vertex AI's) is a model when model=True says so
    request(ms=100, model="claude@2024")
    assert compare_versions("claude@2024", "gpt-4o-mini", "latency_ms", model=True).n_a == 1


def test_pass_rates_small_counts_take_fishers_test(versions):
    v1, v2 = versions
    ids_a = [request(ms=100, version=v1) for _ in range(8)]
    ids_b = [request(ms=100, version=v2) for _ in range(8)]
    score(ids_a, [1.0] * 7 + [0.0])
    score(ids_b, [1.0] * 6 + [0.0] * 2)
    result = compare_versions("support@1", "support@2", "correctness/pass_rate")
    assert result.test == "Fisher's exact test" and result.verdict == "no significant difference"
    assert (result.mean_a, result.mean_b) == (7 / 8, 6 / 8) and result.difference == pytest.approx(-1 / 8)
    # the newest assessment per trace counts: a rescore flips three of b's to failed
    score(ids_b[:3], [0.0] * 3, ago_s=0)
    assert compare_versions("support@1", "support@2", "correctness/pass_rate").mean_b == pytest.approx(3 / 8)


def test_too_few_samples_and_zero_variance_say_so(versions):
    v1, v2 = versions
    ids_a = [request(ms=100, version=v1) for _ in range(5)]
    ids_b = [request(ms=100, version=v2)]
    score(ids_a + ids_b, [1.0] * 6)
    few = compare_versions("support@1", "support@2", "correctness")
    assert few.verdict == "not enough data" and few.p_value is None and "support@2 has 1 trace" in few.message
    ids_b.append(request(ms=100, version=v2))
    score(ids_b[1:], [1.0])
    flat = compare_versions("support@1", "support@2", "correctness")
    assert flat.verdict == "not enough data" and "zero variance" in flat.message and flat.n_b == 2
    assert flat.to_dict()["p_value"] is None
    none = compare_versions("support@1", "support@2", "latency")  # a typo: no scorer of that name
    assert none.n_a == 0 and "Did you mean 'latency_ms'?" in none.message


def test_a_trace_that_used_both_versions_is_left_out(versions):
    v1, v2 = versions
    for ms in (100, 110, 120):
        request(ms=ms, version=v1)
        request(ms=ms + 50, version=v2)
    request(ms=5000, version=v1, extra_version=v2)
    result = compare_versions("support@1", "support@2", "latency_ms")
    assert (result.n_a, result.n_b, result.excluded) == (3, 3, 1)
    assert result.mean_a == pytest.approx(110)


def test_window_and_filter(versions):
    v1, v2 = versions
    for ms in (100, 120, 140):
        request(ms=ms, version=v1, hours_ago=48)
        request(ms=ms, version=v2, hours_ago=1)
        request(ms=ms, version=v1, hours_ago=1, error=True)
    assert compare_versions("support@1", "support@2", "latency_ms", since="24h").n_a == 3
    assert compare_versions("support@1", "support@2", "latency_ms", since="3d").n_a == 6
    filtered = compare_versions("support@1", "support@2", "latency_ms", since="3d", where="t.status = ?",
                                params=["OK"])
    assert filtered.n_a == 3


def test_the_alias_resolves_to_its_version_now(versions):
    v1, v2 = versions
    prompts.set_alias("support", "production", 2)
    for ms in (100, 120):
        request(ms=ms, version=v1)
        request(ms=ms, version=v2)
    result = compare_versions(1, "production", "latency_ms", prompt="support")
    assert result.b == "support@2" and result.n_b == 2


def test_the_view_escapes_and_the_dict_is_plain():
    for ms in (1, 2, 3):
        request(ms=ms, model="<img src=x onerror=alert(1)>")
        request(ms=ms + 1, model="gpt-x")
    result = compare_versions("<img src=x onerror=alert(1)>", "gpt-x", "latency_ms")
    html = result._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "Welch" in html
    data = result.to_dict()
    assert data["n_a"] == 3 and isinstance(data["p_value"], float) and data["other_tests"]
    assert json.loads(json.dumps(data)) == data
    assert "Comparison latency_ms" in repr(result)


def test_bad_arguments_name_the_fix(versions):
    with pytest.raises(ValueError, match="not the same kind"):
        compare_versions("support@1", "gpt-x", "latency_ms")
    with pytest.raises(ValueError, match="not both"):
        compare_versions(1, 2, "latency_ms", prompt="support", model=True)
    with pytest.raises(ValueError, match="both 'support@1'"):
        compare_versions("support@1", "support/1", "latency_ms")
    with pytest.raises(ValueError, match="names prompt 'other'"):
        compare_versions("other@1", 2, "latency_ms", prompt="support")
    with pytest.raises(ValueError, match="per time window"):
        compare_versions("a", "b", "latency_p95_ms")
    with pytest.raises(ValueError, match="pass_rate"):
        compare_versions("a", "b", "correctness/pass_rat")
    with pytest.raises(ValueError, match="alpha"):
        compare_versions("a", "b", "latency_ms", alpha=5)
    with pytest.raises(ValueError, match="is refused"):  # the filter is checked as metrics() checks it
        compare_versions("a", "b", "latency_ms", where="1=1); DROP TABLE spans; --")
    with pytest.raises(ValueError, match="reads outside the store"):
        compare_versions("a", "b", "latency_ms", where="t.name IN (SELECT * FROM read_csv('/etc/passwd'))")
    with pytest.raises(prompts.PromptNotFoundError):
        compare_versions("support@staging", "support@1", "latency_ms")


def test_without_scipy_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(ImportError, match=r"pip install 'llmops_nb\[monitor\]'"):
        compare_versions("a", "b", "latency_ms")


def test_statistics_agree_with_references():
    from scipy import stats

    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([3.0, 4, 5, 6, 9, 10])
    ours, theirs = continuous(a, b, 0.05), stats.ttest_ind(b, a, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert ours.p_value == pytest.approx(theirs.pvalue)
    assert (ours.ci_low, ours.ci_high) == (pytest.approx(interval.low), pytest.approx(interval.high))
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10: 56/70 - 48/80 and 5/56 - 0/29
    first = proportions(48, 80, 56, 70, 0.05)
    assert (round(first.ci_low, 4), round(first.ci_high, 4)) == (0.0524, 0.3339)
    second = proportions(0, 29, 5, 56, 0.05)
    assert (round(second.ci_low, 4), round(second.ci_high, 4)) == (-0.0381, 0.1926)
    assert proportions(0, 10, 0, 10, 0.05).p_value == 1.0  # no events on either side: no difference, no warning
