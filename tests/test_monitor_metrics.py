"""``metrics()`` (``llmops_nb/monitor/_metrics*.py``) on a real store: traces written through the tracing API
at chosen times (a root and its LLM calls, their tokens, errors, guardrails, prompts), assessments inserted
as the scorers store them, and every family's numbers checked against sums done by hand."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import openai
import pandas as pd
import pytest
from fakes import FakeLLMServer, Reply, Usage

import llmops_nb
from llmops_nb import prompts
from llmops_nb.guardrails import banned, check
from llmops_nb.monitor._metrics import FAMILIES, metrics
from llmops_nb.monitor._metrics_frame import Z95, mean_interval, wilson_interval
from llmops_nb.store._connection import get_store
from llmops_nb.tracing import start_span, use_span

HOUR = 3600 * 10**9
MINUTE = 60 * 10**9
#: an hour boundary two days ago: bucket k of the tests' window starts at at(k)
BASE = (time.time_ns() // HOUR - 48) * HOUR
WINDOW = {"since": BASE, "until": BASE + 6 * HOUR, "every": "1h"}


def at(hours: float, minutes: float = 0) -> int:
    return BASE + int(hours * HOUR) + int(minutes * MINUTE)


class QuotaError(Exception):
    pass


def trace(start: int, ms: float, *, name: str = "chat", calls: list[dict] | None = None, tags: dict | None = None,
          session: str | None = None, error: BaseException | str | None = None, attributes: dict | None = None,
          inside=None) -> str:
    """One finished trace: a CHAIN root from ``start`` lasting ``ms``, one CHAT_MODEL span per item of ``calls``
    (its attributes: model, tokens, cost, time to first token), ended in order; ``error``: an exception the
    root records, or a status message (ERROR without an exception). ``inside(root)`` runs with the root current."""
    root = start_span(name, kind="CHAIN", attributes=attributes, parent=None)
    root.trace_meta = {"tags": tags or {}, "session": session}
    root.start_ns = start
    for i, call in enumerate(calls or []):
        span = start_span("openai.chat.completions.create", kind="CHAT_MODEL", attributes=call, parent=root)
        span.start_ns = start + (i + 1) * 1000
        span.end(end_ns=start + (i + 2) * 1000)
    if inside is not None:
        with use_span(root):
            inside(root)
    if isinstance(error, BaseException):
        root.record_exception(error)
    elif error is not None:
        root.set_status("ERROR", error)
    root.end(end_ns=start + int(ms * 1e6))
    return root.trace_id


def call(model: str = "gpt-4o", tokens: tuple[int, int] = (0, 0), cost: float | None = None,
         ttft: float | None = None, **extra) -> dict:
    attributes = {"gen_ai.request.model": model, "gen_ai.usage.input_tokens": tokens[0],
                  "gen_ai.usage.output_tokens": tokens[1], **extra}
    if cost is not None:
        attributes["llmops_nb.cost_usd"] = cost
    if ttft is not None:
        attributes["llmops_nb.stream"] = True
        attributes["llmops_nb.time_to_first_token_ms"] = ttft
    return attributes


def assess(trace_id: str, name: str, value: float | None, *, passed: bool | None = None, at_s: float = 0.0,
           error: str | None = None, target: str | None = None) -> None:
    """An assessment row as the scorers store it, created ``at_s`` seconds after the tests' base time."""
    created = pd.Timestamp(BASE + int(at_s * 1e9), unit="ns").to_pydatetime()
    with get_store().connect() as con:
        con.execute("INSERT INTO assessments (assessment_id, trace_id, name, source_type, value, value_number, "
                    "error, created_at, passed, target_span_id) "
                    "VALUES (md5(random()::VARCHAR), ?, ?, 'CODE', ?, ?, ?, ?, ?, ?)",
                    [trace_id, name, None if value is None else str(value), value, error, created, passed, target])


def times(hours: range) -> list[pd.Timestamp]:
    return [pd.Timestamp(at(h), unit="ns") for h in hours]


# ------------------------------------------------------------------------------------------ families

def test_volume_usage_and_latency_per_bucket_with_the_gaps_filled() -> None:
    trace(at(0, 5), 100, calls=[call(tokens=(10, 5), cost=0.01, ttft=100.0)])
    trace(at(0, 20), 200, calls=[call(tokens=(20, 7), cost=0.02, ttft=300.0)])
    trace(at(0, 59), 400, calls=[call(tokens=(1, 1))])  # not priced: adds no cost
    trace(at(3, 30), 50, calls=[call(tokens=(3, 4), cost=0.5), call(tokens=(1, 0), cost=0.25, ttft=40.0)])
    trace(at(-1), 10)        # before since
    trace(at(6), 10)         # at until: [since, until) leaves it out
    open_root = start_span("still running", kind="CHAIN", parent=None)  # a trace whose root has not ended
    open_root.start_ns = at(1)
    child = start_span("step", kind="TOOL", parent=open_root)
    child.end()

    frame = metrics(**WINDOW, families=["volume", "usage", "latency"])

    assert list(frame.columns) == ["time", "requests", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                   "ttft_p50_ms", "ttft_p95_ms", "input_tokens", "output_tokens", "cost_usd"]
    assert list(frame.time) == times(range(6))
    assert list(frame.requests) == [3, 0, 0, 1, 0, 0]
    assert list(frame.input_tokens) == [31, 0, 0, 4, 0, 0]
    assert list(frame.output_tokens) == [13, 0, 0, 4, 0, 0]
    assert frame.cost_usd.tolist() == pytest.approx([0.03, 0, 0, 0.75, 0, 0])
    first = frame.iloc[0]
    assert first.latency_p50_ms == pytest.approx(np.percentile([100, 200, 400], 50))
    assert first.latency_p95_ms == pytest.approx(np.percentile([100, 200, 400], 95))  # 380: linear, as DuckDB's
    assert first.latency_p99_ms == pytest.approx(396.0)
    assert (first.ttft_p50_ms, first.ttft_p95_ms) == pytest.approx((200.0, 290.0))
    assert (frame.iloc[3].latency_p50_ms, frame.iloc[3].ttft_p50_ms) == (50.0, 40.0)
    gaps = frame.iloc[[1, 2, 4, 5]]
    assert gaps[["latency_p50_ms", "latency_p99_ms", "ttft_p95_ms"]].isna().all().all()
    assert (gaps.cost_usd == 0).all()
    assert frame.requests.dtype == "int64" and frame.input_tokens.dtype == "int64"
    assert frame.time.dtype == "datetime64[ns]"
    open_root.end()


def test_errors_count_traces_whose_root_failed_by_exception_type() -> None:
    trace(at(0, 1), 10)
    trace(at(0, 2), 10, error=ValueError("no"))
    trace(at(0, 3), 10, error=ValueError("again"))
    trace(at(0, 4), 10, error=QuotaError("429"))
    trace(at(0, 5), 10, error="blocked by a guardrail")  # ERROR without an exception
    trace(at(2, 1), 10)

    def failing_step(root) -> None:  # a child fails, the root recovers: the trace did not fail
        with pytest.raises(KeyError), llmops_nb.span("lookup", kind="TOOL"):
            raise KeyError("k")

    trace(at(2, 2), 10, inside=failing_step)

    frame = metrics(**WINDOW, families="errors")

    quota = f"errors/{__name__}.QuotaError"
    assert list(frame.columns) == ["time", "errors", "error_rate", "errors/Error", "errors/ValueError", quota]  # sorted
    assert frame.iloc[0][["errors", "errors/Error", quota, "errors/ValueError"]].tolist() == [4, 1, 1, 2]
    assert frame.error_rate[0] == pytest.approx(4 / 5)
    assert frame.iloc[2][["errors", "error_rate", "errors/ValueError"]].tolist() == [0, 0.0, 0]
    assert frame.error_rate.isna().tolist() == [False, True, False, True, True, True]
    assert (frame.iloc[1][["errors", "errors/Error"]] == 0).all()


def test_scores_use_the_newest_assessment_per_trace_name_and_target() -> None:
    a, b, c, d = (trace(at(0, m), 10) for m in (1, 2, 3, 4))
    other = trace(at(4, 1), 10)
    assess(a, "judge", 0.8, passed=True)
    assess(b, "judge", 0.4, passed=False)
    assess(c, "judge", 0.0, passed=False, at_s=10)   # re-scored: only the newest counts
    assess(c, "judge", 1.0, passed=True, at_s=20)
    assess(d, "judge", None, error="judge timed out")
    assess(a, "relevance", 1.0, passed=True, target="00000000000000a1")  # two spans of one trace, each counted
    assess(a, "relevance", 0.0, passed=False, target="00000000000000a2")
    assess(other, "judge", 0.5)  # a score without a verdict
    assess(trace(at(7), 10), "judge", 0.0, passed=False)  # its trace is outside the window

    frame = metrics(**WINDOW, families="scores")

    stats = ("mean", "mean_low", "mean_high", "count", "pass_rate", "pass_rate_low", "pass_rate_high", "errors")
    assert list(frame.columns) == ["time", *(f"judge/{s}" for s in stats), *(f"relevance/{s}" for s in stats)]
    first = frame.iloc[0]
    values = [0.8, 0.4, 1.0]
    mean, sd = np.mean(values), np.std(values, ddof=1)
    assert first["judge/mean"] == pytest.approx(mean)
    assert (first["judge/mean_low"], first["judge/mean_high"]) == pytest.approx(
        (mean - 1.959964 * sd / math.sqrt(3), mean + 1.959964 * sd / math.sqrt(3)))
    assert (first["judge/count"], first["judge/errors"]) == (3, 1)
    assert first["judge/pass_rate"] == pytest.approx(2 / 3)
    assert (first["judge/pass_rate_low"], first["judge/pass_rate_high"]) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert (first["relevance/mean"], first["relevance/count"], first["relevance/pass_rate"]) == (0.5, 2, 0.5)
    fifth = frame.iloc[4]  # one value: no interval; no verdict: no pass rate
    assert (fifth["judge/mean"], fifth["judge/count"]) == (0.5, 1)
    assert fifth[["judge/mean_low", "judge/mean_high", "judge/pass_rate", "judge/pass_rate_low"]].isna().all()
    assert (fifth["relevance/count"], fifth["relevance/errors"]) == (0, 0) and math.isnan(fifth["relevance/mean"])
    assert frame["judge/count"].tolist() == [3, 0, 0, 0, 1, 0]


def test_wilson_bounds_at_none_and_all_passed() -> None:
    low, high = wilson_interval([0, 10, 5, 0], [10, 10, 10, 0])
    assert low[0] == 0.0 and high[0] == pytest.approx(0.277533, abs=1e-6)
    assert low[1] == pytest.approx(0.722467, abs=1e-6) and high[1] == 1.0
    assert (low[2], high[2]) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert math.isnan(low[3]) and math.isnan(high[3])
    low, high = mean_interval([2.0, 2.0], [1.0, float("nan")], [4, 1])
    assert (low[0], high[0]) == pytest.approx((2 - Z95 / 2, 2 + Z95 / 2))
    assert math.isnan(low[1]) and math.isnan(high[1])


def test_scores_pass_rate_bounds_in_the_frame_for_all_and_none_passed() -> None:
    for m in range(4):
        assess(trace(at(0, m), 10), "safe", 1.0, passed=True)
        assess(trace(at(1, m), 10), "safe", 0.0, passed=False)
    frame = metrics(**WINDOW, families="scores")
    assert frame.loc[0, ["safe/pass_rate", "safe/pass_rate_low"]].tolist() == [1.0, pytest.approx(0.5101, abs=1e-4)]
    assert frame.loc[0, "safe/pass_rate_high"] == 1.0
    assert frame.loc[1, ["safe/pass_rate", "safe/pass_rate_low"]].tolist() == [0.0, 0.0]
    assert frame.loc[1, "safe/pass_rate_high"] == pytest.approx(0.4899, abs=1e-4)


def test_guardrails_count_validator_runs_and_failures() -> None:
    def guarded(root) -> None:
        # warn: both validators run (a block would end the pass), one fails
        check("the password is hunter2", [banned(["password"]), banned(["salary"])], action="warn")
        check("all fine", [banned(["password"])])

    with llmops_nb.span("guarded call", kind="CHAIN") as root:
        guarded(root)
    check("no trace around me: one grouping span, one validator span", [banned(["secret"], action="warn")])
    with llmops_nb.span("other library", kind="CHAIN"), llmops_nb.span("their check", kind="GUARDRAIL") as theirs:
        theirs.set_status("ERROR", "blocked")

    frame = metrics(since="1h", every=None, by="name", families="guardrails")

    counts = frame.set_index("name")[["guardrail_events", "guardrail_failures"]]
    assert counts.loc["guarded call"].tolist() == [3, 1]
    assert counts.loc["guardrails"].tolist() == [1, 0]  # "secret" is absent: the validator passed
    assert counts.loc["other library"].tolist() == [1, 1]


# ------------------------------------------------------------------------------------------ groups

def test_every_group_key() -> None:
    prompts.register("qa", "Q: {{q}}")
    prompts.register("qa", "Question: {{q}}")

    def use_prompt(root) -> None:
        prompts.load("qa", version=2).format(q="why")
        prompts.load("qa", version=1)

    def user_on_a_child(root) -> None:
        child = start_span("gateway chat", kind="CHAIN", attributes={"user.id": "u-span"}, parent=root)
        child.start_ns = root.start_ns + 1000
        child.end(end_ns=root.start_ns + 2000)

    trace(at(0, 1), 10, name="rag", calls=[call("gpt-4o"), call("claude")], tags={"env": "prod", "user.id": "u-tag"},
          session="s1", inside=use_prompt, attributes={"user.id": "u-root"})
    trace(at(0, 2), 10, name="rag", calls=[call("claude")], tags={"user_id": "u-tag2"}, error=ValueError("x"))
    trace(at(1, 3), 10, name="agent", tags={"env": "dev"}, inside=user_on_a_child, error="blocked")
    trace(at(1, 4), 10, name="agent", attributes={"enduser.id": "u-old"}, calls=[call("gpt-4o")])

    def groups(key: str) -> list:
        frame = metrics(**WINDOW, by=key, families="volume")
        assert list(frame.columns) == ["time", key, "requests"]
        rows = [(str(t), v, n) for t, v, n in zip(frame.time, frame[key], frame.requests, strict=True) if n]
        return sorted(rows, key=lambda row: (row[0], row[1] is None, row[1] or ""))

    h0, h1 = str(pd.Timestamp(at(0), unit="ns")), str(pd.Timestamp(at(1), unit="ns"))  # whole timestamps: midnight
    assert groups("model") == [(h0, "claude", 1), (h0, "gpt-4o", 1), (h1, "gpt-4o", 1), (h1, None, 1)]
    assert groups("name") == [(h0, "rag", 2), (h1, "agent", 2)]
    assert groups("status") == [(h0, "ERROR", 1), (h0, "OK", 1), (h1, "ERROR", 1), (h1, "OK", 1)]
    assert groups("session") == [(h0, "s1", 1), (h0, None, 1), (h1, None, 2)]
    assert groups("tag:env") == [(h0, "prod", 1), (h0, None, 1), (h1, "dev", 1), (h1, None, 1)]
    assert groups("user") == [(h0, "u-tag", 1), (h0, "u-tag2", 1), (h1, "u-old", 1), (h1, "u-span", 1)]
    assert groups("prompt") == [(h0, "qa@2", 1), (h0, None, 1), (h1, None, 2)]
    assert groups("error_type") == [(h0, "ValueError", 1), (h0, None, 1), (h1, "Error", 1), (h1, None, 1)]


def test_groups_are_filled_with_every_bucket_and_sorted_by_time_then_group() -> None:
    trace(at(0, 1), 10, calls=[call("b-model")])
    trace(at(2, 1), 10, calls=[call("a-model")])
    trace(at(2, 2), 10)
    frame = metrics(**WINDOW, by=["model", "name"], families=["volume", "errors"])
    assert len(frame) == 6 * 3
    first_hour = frame[["model", "name"]].iloc[:3].values.tolist()
    assert first_hour == [["a-model", "chat"], ["b-model", "chat"], [None, "chat"]]
    assert frame.time.is_monotonic_increasing
    assert frame.requests.sum() == 3 and frame.requests.tolist()[:9] == [0, 1, 0, 0, 0, 0, 1, 0, 1]


def test_unknown_group_keys_are_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match=r"cannot group by 'modle'.*Did you mean 'model'"):
        metrics(by="modle")
    with pytest.raises(ValueError, match="tag's name"):
        metrics(by="tag:")
    with pytest.raises(TypeError, match="group key"):
        metrics(by=3)


# ------------------------------------------------------------------------------------------ where

def test_where_filters_traces_with_bound_params() -> None:
    trace(at(0, 1), 10, name="chat", tags={"env": "prod"})
    trace(at(0, 2), 10, name="chat", tags={"env": "dev"})
    trace(at(0, 3), 10, name="other", tags={"env": "prod"})
    frame = metrics(**WINDOW, families="volume", where="t.name = ? AND json_extract_string(t.tags, '$.env') = ?",
                    params=["chat", "prod"])
    assert frame.requests.tolist() == [1, 0, 0, 0, 0, 0]
    quoted = metrics(**WINDOW, families="volume", where="t.name = 'chat' -- a comment to the line's end")
    assert quoted.requests.sum() == 2
    spans_too = metrics(**WINDOW, families="volume",
                        where="t.trace_id IN (SELECT trace_id FROM spans WHERE name = ?)", params=["other"])
    assert spans_too.requests.sum() == 1


@pytest.mark.parametrize("where", [
    "1=1); DROP TABLE spans; --",
    "1=1) UNION ALL SELECT 1 FROM spans WHERE (1=1",
    "1=1) GROUP BY (t.name",
    "t.trace_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
    "t.name IN (SELECT * FROM '/etc/hosts.csv')",
])
def test_where_injections_are_refused_and_the_tables_stay(where: str) -> None:
    trace(at(0, 1), 10)
    with pytest.raises(ValueError, match=r"refused|could not parse|cannot run") as caught:
        metrics(**WINDOW, where=where)
    assert "?" in str(caught.value) and "params" in str(caught.value)
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0] == 1


def test_where_errors_quote_duckdb_and_name_the_fix() -> None:
    with pytest.raises(ValueError, match=r"DuckDB could not parse it: Parser Error.*use \? placeholders|placeholders"):
        metrics(where="t.name = 'unclosed")
    with pytest.raises(ValueError, match=r"cannot run.*t\.<column>"):
        metrics(where="t.no_such_column = ?", params=[1])
    with pytest.raises(ValueError, match=r"2 \? placeholder\(s\) but 1 value\(s\).*one value in params for each"):
        metrics(where="t.name = ? AND t.status = ?", params=["x"])
    with pytest.raises(ValueError, match="give where= too"):
        metrics(params=["x"])
    with pytest.raises(TypeError, match="list of values"):
        metrics(where="t.name = ?", params="x")


# ------------------------------------------------------------------------------------------ arguments

@pytest.mark.parametrize(("every", "step"), [("1m", "1min"), ("5m", "5min"), ("15m", "15min"), ("6h", "6h"),
                                             ("1d", "1D"), (dt.timedelta(minutes=30), "30min"),
                                             (pd.Timedelta("2h"), "2h")])
def test_every_forms(every, step: str) -> None:
    trace(at(0, 1), 10)
    frame = metrics(since=at(0), until=at(2), every=every, families="volume")
    assert (frame.time.diff().dropna() == pd.Timedelta(step)).all() and frame.requests.sum() == 1
    assert frame.attrs["every"] == pd.Timedelta(step)


@pytest.mark.parametrize("every", ["1x", "h", "1.5h", "0m", "-1h", 5, dt.timedelta(milliseconds=1500), "1M"])
def test_bad_every_names_the_accepted_form(every) -> None:
    with pytest.raises(ValueError, match=r"not a bucket size.*'5m', '15m', '1h'"):
        metrics(every=every)


def test_bad_windows_name_the_fix() -> None:
    for bad in ("yesterday-ish", "now", "2026-13-45"):
        with pytest.raises(ValueError, match=r"not a time: write a duration back from now \('24h'"):
            metrics(since=bad)
    with pytest.raises(TypeError, match="not a time"):
        metrics(since=1.5)
    with pytest.raises(ValueError, match=r"epoch seconds pass since=1700000000 \* 10\*\*9"):
        metrics(since=1_700_000_000)
    with pytest.raises(ValueError, match="since before until"):
        metrics(since="1h", until="2h")
    with pytest.raises(ValueError, match=r"buckets.*coarser every"):
        metrics(since="30d", every="1s")
    with pytest.raises(ValueError, match=r"no metric family 'latncy'.*Did you mean 'latency'"):
        metrics(families=["latncy"])
    with pytest.raises(TypeError, match="store="):
        metrics(store=42)


def test_since_and_until_forms_mean_the_same_window() -> None:
    trace(at(1, 30), 10)
    start, end = pd.Timestamp(at(0.5), unit="ns"), pd.Timestamp(at(3), unit="ns")
    expected = [0, 1, 0]  # since at(0.5): the first bucket is partial, and empty
    paris = start.tz_localize("UTC").tz_convert("Europe/Paris")
    for since, until in [(at(0.5), at(3)), (start, end), (str(start), str(end)), (paris, end.to_pydatetime()),
                         (start.isoformat() + "Z", end.isoformat() + "+00:00")]:
        frame = metrics(since=since, until=until, families="volume")
        assert frame.requests.tolist() == expected, (since, until)
        assert frame.time[0] == pd.Timestamp(at(0), unit="ns")


def test_a_relative_since_starts_at_the_next_bucket() -> None:
    with llmops_nb.span("now", kind="CHAIN"):
        pass
    frame = metrics(since="30d", every="1h", families="volume")
    assert len(frame) == 720 and frame.requests.sum() == 1 and frame.requests.iloc[-1] == 1
    assert frame.attrs["since"] == frame.time[0] and frame.time[0] == frame.time[0].floor("h")
    daily = metrics(since="7d", every="1d", families="volume")
    assert len(daily) == 7


def test_an_empty_window_gives_an_empty_frame_with_the_columns() -> None:
    trace(at(10), 10)
    frame = metrics(**WINDOW, by=["model", "tag:env"])
    assert frame.empty
    assert list(frame.columns) == ["time", "model", "tag:env", "requests", "errors", "error_rate", "latency_p50_ms",
                                   "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms", "input_tokens",
                                   "output_tokens", "cost_usd", "guardrail_events", "guardrail_failures"]
    assert frame.time.dtype == "datetime64[ns]" and frame.requests.dtype == "int64"
    whole = metrics(**{**WINDOW, "every": None}, families="volume")
    assert whole.empty and list(whole.columns) == ["requests"]


def test_every_none_gives_one_row_per_group_over_the_window() -> None:
    trace(at(0, 1), 100, calls=[call("m1")])
    trace(at(5, 1), 300, calls=[call("m1")], error=ValueError("x"))
    trace(at(5, 2), 50, calls=[call("m2")])
    frame = metrics(**{**WINDOW, "every": None}, by="model", families=["volume", "errors", "latency"])
    assert "time" not in frame.columns
    assert frame[["model", "requests", "errors"]].values.tolist() == [["m1", 2, 1], ["m2", 1, 0]]
    assert frame.latency_p50_ms.tolist() == [200.0, 50.0]
    total = metrics(**{**WINDOW, "every": None}, families="volume")
    assert total.requests.tolist() == [3]


def test_a_store_given_as_an_object() -> None:
    trace(at(0, 1), 10)
    assert metrics(**WINDOW, families="volume", store=get_store()).requests.sum() == 1


@pytest.mark.file_store
def test_a_store_given_by_path(store_path) -> None:
    trace(at(0, 1), 10)
    assert metrics(**WINDOW, families="volume", store=str(store_path)).requests.sum() == 1
    assert metrics(**WINDOW, families="volume", store=store_path.parent / "other.duckdb").empty


# ------------------------------------------------------------------------------------------ real calls

def test_real_sdk_calls_streamed_through_the_fake_server() -> None:
    """The openai SDK against the fake server, captured by autolog: model, tokens and time to first token."""
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris.", usage=Usage(input_tokens=14, output_tokens=3)),
                       Reply(text="Bienvenue à Paris!", delay=0.05, chunk_delay=0.01,
                             usage=Usage(input_tokens=11, output_tokens=9)))
        ask = [{"role": "user", "content": "Capital of France?"}]
        llmops_nb.autolog()
        try:
            with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client:
                with llmops_nb.span("plain", kind="CHAIN"):
                    client.chat.completions.create(model="gpt-4o-mini", messages=ask)
                with llmops_nb.span("streamed", kind="CHAIN"):
                    for _ in client.chat.completions.create(model="gpt-4o", messages=ask, stream=True,
                                                            stream_options={"include_usage": True}):
                        pass
        finally:
            llmops_nb.autolog(disable=True)
    frame = metrics(since="1h", every=None, by="model", families=["volume", "usage", "latency"])
    rows = frame.set_index("model")
    assert rows.requests.to_dict() == {"gpt-4o": 1, "gpt-4o-mini": 1}
    assert rows.loc["gpt-4o-mini", ["input_tokens", "output_tokens"]].tolist() == [14, 3]
    assert rows.loc["gpt-4o", ["input_tokens", "output_tokens"]].tolist() == [11, 9]
    assert math.isnan(rows.loc["gpt-4o-mini", "ttft_p50_ms"])
    assert 40 <= rows.loc["gpt-4o", "ttft_p50_ms"] <= rows.loc["gpt-4o", "latency_p50_ms"]


def test_all_families_together_keep_the_family_order() -> None:
    tid = trace(at(0, 1), 10, calls=[call(ttft=5.0)], error=ValueError("x"))
    assess(tid, "judge", 1.0, passed=True)
    frame = metrics(**WINDOW)
    assert FAMILIES == ("volume", "errors", "latency", "usage", "scores", "guardrails")
    assert list(frame.columns) == [
        "time", "requests", "errors", "error_rate", "errors/ValueError", "latency_p50_ms", "latency_p95_ms",
        "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms", "input_tokens", "output_tokens", "cost_usd", "judge/mean",
        "judge/mean_low", "judge/mean_high", "judge/count", "judge/pass_rate", "judge/pass_rate_low",
        "judge/pass_rate_high", "judge/errors", "guardrail_events", "guardrail_failures"]
    assert frame.loc[0, ["requests", "errors", "judge/count"]].tolist() == [1, 1, 1]
