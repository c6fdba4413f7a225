"""TraceList: the ``page`` method (filters, sort, paging, totals, errors), the widget model, its
script-free snapshot, the ``%llm_traces`` magic, and page times on a 100k-trace store."""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
from IPython.core.error import UsageError

import llmops_nb
from llmops_nb.store._connection import get_store
from llmops_nb.widgets import _base
from llmops_nb.widgets._rpc import RpcServer
from llmops_nb.widgets.trace_list import _snapshot
from llmops_nb.widgets.trace_list._filters import normalize_filters
from llmops_nb.widgets.trace_list._query import SORT_COLUMNS
from llmops_nb.widgets.trace_list._widget import trace_list_methods
from tests.glyphs import unsafe_glyphs

T0 = int(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc).timestamp() * 1e9)
MINUTE = 60 * 10**9
XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)")


def page(params: dict) -> dict:
    """A ``page`` request as the view sends it: params bound to the handler's signature, then answered."""
    return trace_list_methods.get("page")(params)


def tid(i: int) -> str:
    return f"{i:032x}"


def insert(traces: list[dict]) -> None:
    """Rows straight into the store's tables (the writer's shape, our timestamps), with one span
    per model listed in ``models``."""
    columns = ("trace_id", "name", "status", "start_ns", "end_ns", "span_count", "llm_calls", "error_count",
               "input_tokens", "output_tokens", "cost_usd", "tags", "session", "error_message", "request_preview",
               "response_preview")
    with get_store().connect() as con:
        for t in traces:
            row = {"status": "OK", "end_ns": t["start_ns"] + 1_000_000_000, "span_count": 1, "llm_calls": 0,
                   "error_count": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None, "tags": None,
                   "session": None, "error_message": None, "request_preview": None, "response_preview": None,
                   **{k: v for k, v in t.items() if k in columns}}
            if isinstance(row["tags"], dict):
                row["tags"] = json.dumps(row["tags"])
            if get_store().supports_upsert:
                con.execute(f"INSERT INTO traces ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            [row[c] for c in columns])
            else:  # the lake's traces are a view over appended parts (store/_lake_schema.py)
                con.execute(f"INSERT INTO trace_parts (batch_id, written_ns, {', '.join(columns)}) "
                            f"VALUES ('test', 0, {', '.join('?' * len(columns))})", [row[c] for c in columns])
            for k, model in enumerate(t.get("models", [])):
                con.execute("INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status, model, "
                            "inputs) VALUES (?, ?, ?, 'CHAT_MODEL', ?, ?, 'OK', ?, ?)",
                            [t["trace_id"], f"{k:016x}", f"llm {k}", t["start_ns"], t["start_ns"] + 1, model,
                             json.dumps(t.get("inputs", {"q": "hi"}))])


@pytest.fixture
def sample() -> dict[str, str]:
    """Six traces a minute apart, starting at T0."""
    rows = [
        dict(trace_id=tid(1), name="rag", start_ns=T0, end_ns=T0 + 2_500_000_000, tags={"env": "dev"},
             models=["gpt-4o-mini"], input_tokens=10, output_tokens=5, cost_usd=0.01, span_count=3, llm_calls=1,
             inputs={"question": "Where is Paris?"}, request_preview='{"question": "Where is Paris?"}',
             response_preview='"In France."'),
        dict(trace_id=tid(2), name="agent", start_ns=T0 + MINUTE, status="ERROR", error_message="tool blew up",
             tags={"env": "prod", "team": "x"}, models=["claude-3-5-haiku", "gpt-4o"], input_tokens=100,
             output_tokens=50, cost_usd=0.2, span_count=9, llm_calls=2, session="s1"),
        dict(trace_id=tid(3), name="agent", start_ns=T0 + 2 * MINUTE, end_ns=None, status=None, span_count=4,
             session="s1", models=["gpt-4o"], inputs={"say": 'He said "100%_done"\nok'}),
        dict(trace_id=tid(4), name="summarize", start_ns=T0 + 3 * MINUTE, end_ns=T0 + 3 * MINUTE + 10**6,
             input_tokens=7, output_tokens=0, cost_usd=0.0, span_count=2, llm_calls=1, models=["gpt-4o-mini"]),
        dict(trace_id=tid(5), name=XSS[0], start_ns=T0 + 4 * MINUTE, tags={"env": XSS[1]}, span_count=1),
        dict(trace_id=tid(6), name="rag", start_ns=T0 + 5 * MINUTE, tags={"env": "dev", "team": "y"},
             span_count=5, input_tokens=1, output_tokens=1),
    ]
    insert(rows)
    return {r["name"] + str(i): r["trace_id"] for i, r in enumerate(rows, 1)}


def ids(result: dict) -> list[str]:
    return [r["trace_id"] for r in result["rows"]]


def iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat()


# ----------------------------------------------------------------------------------- page: filters

def test_page_lists_newest_first_with_total_and_row_fields(sample):
    result = page({})
    assert ids(result) == [tid(i) for i in (6, 5, 4, 3, 2, 1)]
    assert result["total"] == 6 and result["offset"] == 0 and result["limit"] == 100
    assert result["sort"] == {"column": "start_time", "descending": True}
    assert result["as_of"].isdigit() and result["elapsed_ms"] >= 0
    first = {r["trace_id"]: r for r in result["rows"]}[tid(1)]
    assert first == {
        "trace_id": tid(1), "name": "rag", "status": "OK", "span_count": 3, "llm_calls": 1, "error_count": 0,
        "input_tokens": 10, "output_tokens": 5, "tokens": 15, "cost_usd": 0.01, "tags": {"env": "dev"},
        "session": None, "error_message": None, "start_time": "2026-11-20T12:00:00.000+00:00", "duration_ms": 2500.0,
        "request": "Where is Paris?", "response": "In France.", "models": ["gpt-4o-mini"], "eval": None,
    }
    running = {r["trace_id"]: r for r in result["rows"]}[tid(3)]
    assert running["status"] == "IN_PROGRESS" and running["duration_ms"] is None
    json.dumps(result, allow_nan=False)  # what the comm sends: plain JSON


@pytest.mark.parametrize(("filters", "expected"), [
    ({"name": "rag"}, [6, 1]),
    ({"name": "ag*"}, [3, 2]),
    ({"name": "s?mmarize"}, [4]),
    ({"tags": {"env": "dev"}}, [6, 1]),
    ({"tags": {"env": "dev", "team": "y"}}, [6]),
    ({"tags": "env=prod, team=x"}, [2]),
    ({"tags": ["env=dev"]}, [6, 1]),
    ({"tags": {"env": XSS[1]}}, [5]),
    ({"status": "error"}, [2]),
    ({"status": "IN_PROGRESS"}, [3]),
    ({"status": "OK"}, [6, 5, 4, 1]),
    ({"model": "gpt-4o"}, [3, 2]),
    ({"model": "gpt-4o-mini"}, [4, 1]),
    ({"model": "claude*"}, [2]),
    ({"model": "gpt-4o", "status": "ERROR"}, [2]),
    ({"session": "s1"}, [3, 2]),
    ({"since": iso(T0 + 2 * MINUTE)}, [6, 5, 4, 3]),
    ({"until": iso(T0 + 2 * MINUTE)}, [2, 1]),
    ({"since": iso(T0 + MINUTE), "until": iso(T0 + 3 * MINUTE)}, [3, 2]),
    ({"since": "2026-11-20T12:01:00+00:00", "until": "2026-11-20T12:03:00Z"}, [3, 2]),
    ({"text": "paris"}, [1]),
    ({"text": "blew"}, [2]),
    ({"text": "<script>"}, [5]),
    ({"text": '"100%_done"'}, [3]),
    ({"text": "100%"}, [3]),
    ({"text": "50%"}, []),
    ({"name": "", "model": "", "tags": "", "status": "", "text": ""}, [6, 5, 4, 3, 2, 1]),
])
def test_page_filters(sample, filters, expected):
    result = page({"filters": filters})
    assert ids(result) == [tid(i) for i in expected]
    assert result["total"] == len(expected)


def test_filters_are_parameters_never_sql(sample):
    nasty = "x' OR 1=1; DROP TABLE traces; --"
    for key in ("name", "model", "session", "text"):
        assert page({"filters": {key: nasty}})["total"] == 0
    assert page({"filters": {"tags": {nasty: nasty}}})["total"] == 0
    assert page({})["total"] == 6


def test_real_traces_from_the_recorder_are_listed_with_their_model():
    root = llmops_nb.tracing.start_span("pipeline", kind="CHAIN", parent=None)
    root.trace_meta = {"tags": {"env": "ci"}, "session": None, "cell": None}
    with llmops_nb.tracing.use_span(root), llmops_nb.span("llm", kind="CHAT_MODEL") as s:
        s.set_attributes({"gen_ai.request.model": "m-7", "gen_ai.usage.input_tokens": 3,
                          "gen_ai.usage.output_tokens": 4})
    root.end()
    # no flush here: a first page flushes the recorder, so a trace that just ended is listed
    result = page({"filters": {"model": "m-7", "tags": {"env": "ci"}, "since": dt.datetime.now().isoformat()[:10]}})
    assert ids(result) == [root.trace_id]
    assert result["rows"][0]["tokens"] == 7 and result["rows"][0]["llm_calls"] == 1


# ----------------------------------------------------------------------------------- evaluation traces

@pytest.fixture
def evals() -> dict[str, object]:
    """Two app traces (one in a session) and two real evaluation runs: 'top-1' (3 rows), 'top-2, short' (2)."""
    with llmops_nb.span("chat", kind="CHAIN") as root:
        root.set_inputs({"messages": [{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "What is <b>2+2</b>?"}]})
        root.set_outputs({"answer": "4"})
        with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
            llm.set_attributes({"gen_ai.request.model": "gpt-4o-mini"})
        with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
            llm.set_attributes({"gen_ai.request.model": "claude-3-5-haiku"})
    llmops_nb.flush()
    with get_store().connect() as con:
        if get_store().supports_upsert:
            con.execute("UPDATE traces SET session = 's-1' WHERE trace_id = ?", [root.trace_id])
        else:  # a later part's session wins on the lake
            con.execute("INSERT INTO trace_parts (trace_id, batch_id, written_ns, session) "
                        "VALUES (?, 'test', ?, 's-1')", [root.trace_id, 2**62])

    def app(question: str) -> str:
        return question.upper()

    data = [{"inputs": {"question": f"q{i}"}} for i in range(3)]
    one = llmops_nb.evaluate(data, predict_fn=app, name="top-1", progress=False)
    two = llmops_nb.evaluate(data[:2], predict_fn=app, name="top-2, short", progress=False)
    llmops_nb.flush()
    return {"app": root.trace_id, "one": one, "two": two}


def test_eval_traces_are_hidden_and_counted(evals):
    result = page({})
    assert ids(result) == [evals["app"]]
    assert (result["total"], result["eval_total"], result["evals_hidden"]) == (1, 5, True)
    row = result["rows"][0]
    assert row["request"] == "What is <b>2+2</b>?" and row["response"] == "4"  # the last message; the one value
    assert row["models"] == ["claude-3-5-haiku", "gpt-4o-mini"] and row["session"] == "s-1" and row["eval"] is None
    # the other filters apply to the count of evaluation traces too
    assert page({"filters": {"name": "top-1"}})["eval_total"] == 3
    assert page({"filters": {"name": "top-1"}})["total"] == 0


def test_eval_traces_shown_are_named_by_run_and_row(evals):
    result = page({"filters": {"evals": True}, "sort": {"column": "start_time", "descending": False}})
    assert (result["total"], result["eval_total"], result["evals_hidden"]) == (6, 5, False)
    rows = result["rows"][1:]
    one, two = evals["one"], evals["two"]
    assert [r["eval"]["label"] for r in rows] == ["top-1 · row 0", "top-1 · row 1", "top-1 · row 2",
                                                 "top-2, short · row 0", "top-2, short · row 1"]
    assert [r["trace_id"] for r in rows] == [*one["trace_id"], *two["trace_id"]]
    first = rows[0]
    assert first["eval"] == {"run_id": one.attrs["run_id"], "run": "top-1", "row": 0, "label": "top-1 · row 0"}
    assert first["tags"] == {}  # the raw llmops_nb.eval_run tag is the run's name and row instead
    assert first["request"] == "q0" and first["response"] == "Q0"


@pytest.mark.parametrize("key", ["run_id", "name"])
def test_eval_run_filter_by_id_or_name(evals, key):
    run = evals["one"].attrs["run_id"] if key == "run_id" else "top-1"
    result = page({"filters": {"eval_run": run}})
    assert result["total"] == 3 and result["evals_hidden"] is False
    assert sorted(ids(result)) == sorted(evals["one"]["trace_id"])
    assert page({"filters": {"eval_run": "no such run"}})["total"] == 0


@pytest.mark.parametrize(("stored", "shown"), [
    ('{"question": "Where is\\n Paris?"}', "Where is Paris?"),
    ('{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}', "hi"),
    ('{"choices": [{"message": {"role": "assistant", "content": "Paris."}}]}', "Paris."),
    ('"plain"', "plain"),
    ('{"a": 1, "b": 2}', '{"a": 1, "b": 2}'),
    # the store cuts previews at 300 characters: the last content string, cut short, still reads
    ('{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "What is th',
     "What is th"),
    ('{"a": 1, "b": [1', '{"a": 1, "b": [1'),
    (None, ""),
])
def test_previews_read_like_text(stored, shown):
    from llmops_nb.widgets.trace_list._query import preview

    assert preview(stored) == shown


def test_eval_filters_are_checked_and_stated():
    assert normalize_filters({"evals": True, "eval_run": "top-1"}) == {"eval_run": "top-1", "evals": True}
    assert normalize_filters({"evals": False}) == {}
    with pytest.raises(ValueError, match="must be true or false"):
        normalize_filters({"evals": "yes"})
    from llmops_nb.widgets.trace_list._filters import describe_filters

    assert describe_filters({"eval_run": "top-1", "evals": True}) == (
        "evaluation run 'top-1', evaluation traces included")


def test_snapshot_has_the_new_columns_and_hides_eval_traces(evals):
    bundle = _snapshot.snapshot({})
    parsed = _Html()
    parsed.feed(bundle["text/html"])
    headers = ["Start (UTC)", "Name", "Request", "Response", "Session", "Model", "Duration", "Spans", "LLM calls",
               "Tokens", "Cost", "Status", "Trace id"]
    assert headers == [h for h in header_texts(bundle["text/html"])]
    assert parsed.cells[1:6] == ["chat", "What is <b>2+2</b>?", "4", "s-1", "claude-3-5-haiku, gpt-4o-mini"]
    assert "<b>" not in bundle["text/html"] and "What is &lt;b&gt;2+2&lt;/b&gt;?" in bundle["text/html"]
    assert parsed.paragraphs == ["1 trace in the llmops_nb store matching: all traces; newest first. "
                                 "5 evaluation traces are not listed (%llm_traces --evals lists them)."]
    assert bundle["text/plain"].splitlines()[-1] == "  (5 evaluation traces not listed: %llm_traces --evals)"
    shown = _snapshot.snapshot({"eval_run": "top-2, short"})
    parsed = _Html()
    parsed.feed(shown["text/html"])
    assert parsed.paragraphs == ["2 traces in the llmops_nb store matching: evaluation run 'top-2, short'; "
                                 "newest first."]
    assert [c for c in parsed.cells if c.startswith("top-2")] == ["top-2, short · row 1", "top-2, short · row 0"]


def test_snapshot_needs_no_special_font(evals, sample):
    """Running, failed and unpriced traces, eval rows and the "more" lines: words and common marks only
    (tests/glyphs.py), like the explorer's snapshot."""
    for bundle in (_snapshot.snapshot({}), _snapshot.snapshot({"evals": True}, rows=2)):
        assert unsafe_glyphs(bundle["text/html"]) == set() and unsafe_glyphs(bundle["text/plain"]) == set()
    assert "running" in _snapshot.snapshot({})["text/html"]


def header_texts(text: str) -> list[str]:
    import re

    return [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", text)]


def test_magic_eval_options(evals, magics):
    shown = magics.llm_traces('--eval-run "top-2, short"')
    assert shown.filters == {"eval_run": "top-2, short"} and repr(shown).startswith("TraceList: 2 traces")
    assert magics.llm_traces("--evals").filters == {"evals": True}
    assert repr(magics.llm_traces("--evals")).startswith("TraceList: 6 traces")


# ----------------------------------------------------------------------------------- page: sort and paging

@pytest.mark.parametrize(("column", "descending", "expected"), [
    ("start_time", False, [1, 2, 3, 4, 5, 6]),
    ("name", False, [5, 2, 3, 1, 6, 4]),  # "<script>…" sorts first; ties broken by trace id
    ("duration", True, [1, 6, 5, 2, 4, 3]),  # ties by trace id in the same direction; running last
    ("duration", False, [4, 2, 5, 6, 1, 3]),
    ("spans", True, [2, 6, 3, 1, 4, 5]),
    ("llm_calls", True, [2, 4, 1, 6, 5, 3]),
    ("tokens", True, [2, 1, 4, 6, 5, 3]),
    ("cost", True, [2, 1, 4, 6, 5, 3]),  # unpriced traces last
    ("status", False, [2, 3, 1, 4, 5, 6]),
])
def test_page_sorts(sample, column, descending, expected):
    result = page({"sort": {"column": column, "descending": descending}})
    assert ids(result) == [tid(i) for i in expected]
    assert result["sort"] == {"column": column, "descending": descending}


# What each sort column orders by, read from a row (a column added to SORT_COLUMNS without one fails here).
SORTED_BY = {"start_time": "start_time", "name": "name", "duration": "duration_ms", "spans": "span_count",
             "llm_calls": "llm_calls", "tokens": "tokens", "cost": "cost_usd", "status": "status",
             "session": "session"}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", sorted(SORT_COLUMNS))
def test_every_sort_column_orders_the_page_by_its_value(sample, column, descending):
    result = page({"sort": {"column": column, "descending": descending}})
    assert result["total"] == 6 and sorted(ids(result)) == sorted(sample.values())
    values = [r[SORTED_BY[column]] for r in result["rows"]]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending), values
    assert values[len(present):] == [None] * (len(values) - len(present))  # missing values last, either way


def test_pages_tile_the_list_without_gaps_or_overlaps():
    insert([dict(trace_id=tid(i), name=f"t{i % 7}", start_ns=T0 + (i // 3) * MINUTE, span_count=i % 5)
            for i in range(1, 251)])
    for sort in ({"column": "start_time", "descending": True}, {"column": "spans", "descending": False},
                 {"column": "name", "descending": True}):
        first = page({"sort": sort, "limit": 100})
        assert first["total"] == 250
        seen = ids(first)
        for offset in (100, 200):
            nxt = page({"sort": sort, "offset": offset, "limit": 100, "as_of": first["as_of"]})
            assert nxt["total"] == 250 and nxt["offset"] == offset
            seen += ids(nxt)
        assert len(seen) == 250 and len(set(seen)) == 250, sort
    assert ids(page({"offset": 1000}))[:1] == [] and page({"offset": 1000})["total"] == 250


def test_as_of_pins_the_list_while_new_traces_arrive(sample):
    first = page({"limit": 2})
    insert([dict(trace_id=tid(99), name="late", start_ns=time.time_ns() + MINUTE)])
    pinned = page({"offset": 2, "limit": 2, "as_of": first["as_of"]})
    assert pinned["total"] == 6 and ids(pinned) == [tid(4), tid(3)]
    assert page({"limit": 2})["total"] == 7  # a refresh (no as_of) sees it


# ----------------------------------------------------------------------------------- page: errors

@pytest.mark.parametrize(("params", "message"), [
    ({"filters": {"nmae": "x"}}, "Did you mean 'name'"),
    ({"filters": {"tag": "env=dev"}}, "Did you mean 'tags'"),
    ({"filters": "name=x"}, "filters must be an object"),
    ({"filters": {"status": "failed"}}, "OK, ERROR, IN_PROGRESS"),
    ({"filters": {"since": "yesterday"}}, "ISO"),
    ({"filters": {"since": "2026-11-21", "until": "2026-11-20"}}, "must be before"),
    ({"filters": {"tags": "env"}}, "KEY=VALUE"),
    ({"filters": {"name": 3}}, "must be a string"),
    ({"filters": {"text": "x" * 5000}}, "at most 1000"),
    ({"sort": {"column": "durations"}}, "Did you mean 'duration'"),
    ({"sort": {"column": "trace_id; DROP TABLE traces"}}, "cannot sort by"),
    ({"sort": {"column": "name", "descending": "yes"}}, "true or false"),
    ({"sort": "name"}, "sort must be"),
    ({"offset": -1}, "offset must be an integer at least 0"),
    ({"offset": 1.5}, "offset"),
    ({"limit": 0}, "between 1 and 1000"),
    ({"limit": 10**6}, "between 1 and 1000"),
    ({"as_of": "soon"}, "as_of"),
    ({"page": 2}, "unknown page parameter"),
])
def test_bad_page_params_are_explained(params, message):
    with pytest.raises(ValueError, match=message):
        page(params)


def _serve(methods_of):
    sent: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=2)
    server = RpcServer(methods_of, sent.append, pool=pool)
    return server, sent, pool


def test_rpc_page_answers_rows_and_errors_and_the_explorer_methods(sample):
    server, sent, pool = _serve(trace_list_methods)
    try:
        assert {"page", "skeleton", "span", "search"} <= set(server.methods.names())
        requests = [
            {"type": "request", "id": 1, "method": "page", "params": {"filters": {"status": "ERROR"}}},
            {"type": "request", "id": 2, "method": "page", "params": {"filters": {"since": "last week"}}},
            {"type": "request", "id": 3, "method": "page", "params": {"sort": {"column": "cots"}}},
            {"type": "request", "id": 4, "method": "skeleton", "params": {"trace_id": tid(2)}},
            {"type": "request", "id": 5, "method": "pages", "params": {}},
        ]
        for request in requests:
            server.handle(request).exception(timeout=30) if request["id"] != 5 else server.handle(request)
        pool.shutdown(wait=True)
    finally:
        pool.shutdown(wait=True)
    by_id = {m["id"]: m for m in sent}
    assert len(sent) == 5
    assert by_id[1]["ok"] and [r["trace_id"] for r in by_id[1]["data"]["rows"]] == [tid(2)]
    assert by_id[2] == {"type": "response", "id": 2, "ok": False, "error_type": "ValueError",
                        "error": "since='last week' is not an ISO date/time; write e.g. '2026-11-26', "
                                 "'2026-11-26T14:00' (local time) or '2026-11-26T14:00Z' (UTC)."}
    assert not by_id[3]["ok"] and "Did you mean 'cost'" in by_id[3]["error"]
    assert by_id[4]["ok"] and by_id[4]["data"]["trace"]["trace_id"] == tid(2)
    assert not by_id[5]["ok"] and "Did you mean 'page'" in by_id[5]["error"]


# ----------------------------------------------------------------------------------- filters, snapshot

def test_normalize_filters_canonical_form():
    since = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    out = normalize_filters({"name": "rag", "tags": "env=dev, team = x", "status": "error", "model": "",
                             "since": since, "until": "2026-11-21", "text": None})
    assert out == {"name": "rag", "tags": {"env": "dev", "team": "x"}, "status": "ERROR",
                   "since": "2026-11-20T12:00:00.000+00:00", "until": "2026-11-21"}
    ago = normalize_filters({"since": dt.timedelta(hours=1)})["since"]
    assert abs(dt.datetime.fromisoformat(ago).timestamp() - (time.time() - 3600)) < 5
    assert normalize_filters(None) == {} and normalize_filters({}) == {}


class _Html(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[str] = []
        self.paragraphs: list[str] = []
        self._where: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("td", "p"):
            self._where = tag
            (self.cells if tag == "td" else self.paragraphs).append("")

    def handle_endtag(self, tag):
        self._where = None

    def handle_data(self, data):
        if self._where == "td":
            self.cells[-1] += data
        elif self._where == "p":
            self.paragraphs[-1] += data


def test_snapshot_is_a_plain_escaped_table_with_the_filter_stated(sample):
    bundle = _snapshot.snapshot({"tags": {"env": XSS[1]}})
    parsed = _Html()
    parsed.feed(bundle["text/html"])
    assert {t for t, _ in parsed.tags} <= {"div", "p", "table", "thead", "tbody", "tr", "th", "td"}
    assert all(set(attrs) <= {"class"} for _, attrs in parsed.tags)
    assert "<img" not in bundle["text/html"] and "<script" not in bundle["text/html"]
    assert html.escape(XSS[1]) in bundle["text/html"]
    assert XSS[0] in parsed.cells  # the name, read back as text
    assert parsed.paragraphs == [f"1 trace in the llmops_nb store matching: tag env = '{XSS[1]}'; newest first."]
    assert "TraceList: 1 trace" in bundle["text/plain"] and tid(5) in bundle["text/plain"]


def test_snapshot_lists_the_first_50_and_says_so():
    insert([dict(trace_id=tid(i), name=f"t{i}", start_ns=T0 + i * MINUTE, status="ERROR" if i % 2 else "OK")
            for i in range(1, 131)])
    bundle = _snapshot.snapshot({"status": "ERROR"}, ("cost", False))
    parsed = _Html()
    parsed.feed(bundle["text/html"])
    assert sum(t == "tr" for t, _ in parsed.tags) == 51  # header + 50
    assert parsed.paragraphs[0] == ("65 traces in the llmops_nb store matching: status ERROR; by cost, ascending. "
                                    "The first 50 are listed; run the notebook to browse them all.")
    lines = bundle["text/plain"].splitlines()
    assert lines[0].startswith("TraceList: 65 traces") and lines[-1] == "  … 55 more" and len(lines) == 12


def test_snapshot_of_an_empty_store_and_of_a_bad_filter():
    assert _snapshot.snapshot({})["text/plain"] == (
        "TraceList: 0 traces in the llmops_nb store matching: all traces; newest first.")
    with pytest.raises(ValueError, match="Did you mean"):
        _snapshot.snapshot({"stauts": "OK"})


# ----------------------------------------------------------------------------------- widget and magic

needs_bundle = pytest.mark.skipif(not _base.bundle_available("trace_list"),
                                  reason="JS bundle not built (cd js && npm ci && npm run build)")


@needs_bundle
def test_widget_state_bundle_and_methods(sample):
    from llmops_nb.widgets import TraceList

    w = TraceList({"status": "error", "tags": "env=prod"}, sort_by="cost", sort_desc=False, height=600)
    assert w.filters == {"tags": {"env": "prod"}, "status": "ERROR"}
    assert (w.sort_by, w.sort_desc, w.height, w.trace_id) == ("cost", False, 600, None)
    state = w.get_state()
    assert "rows" not in state and state["filters"] == {"status": "ERROR", "tags": {"env": "prod"}}
    assert {"page", "skeleton", "span", "search"} <= set(w._rpc.methods.names())
    data, _meta = w._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= set(data)
    assert "1 trace in the llmops_nb store matching: tag env = &#x27;prod&#x27;, status ERROR" in data["text/html"]
    assert repr(w) == "TraceList(filters={'tags': {'env': 'prod'}, 'status': 'ERROR'}, sort_by='cost', sort_desc=False)"
    with pytest.raises(TypeError, match="check the spelling"):
        TraceList(sort="name")
    with pytest.raises(ValueError, match="Did you mean 'duration'"):
        TraceList(sort_by="durration")
    with pytest.raises(ValueError, match="Did you mean 'model'"):
        TraceList({"modle": "x"})
    w.close()


def test_trace_list_outside_a_kernel_is_the_static_table(sample):
    from llmops_nb.widgets import trace_list
    from llmops_nb.widgets.trace_list._snapshot import TraceListSnapshot

    shown = trace_list(tag="env=dev", name="rag")
    assert isinstance(shown, TraceListSnapshot)
    assert shown.filters == {"name": "rag", "tags": {"env": "dev"}}
    assert repr(shown).startswith("TraceList: 2 traces in the llmops_nb store matching: name = 'rag', tag env = 'dev'")
    assert set(shown._repr_mimebundle_()) == {"text/html", "text/plain"}
    with pytest.raises(ValueError, match="Did you mean 'status'"):
        trace_list(statsu="OK")


@pytest.fixture
def magics():
    from IPython.testing.globalipapp import get_ipython

    from llmops_nb.magics._traces_magic import TracesMagics

    shell = get_ipython()
    return TracesMagics(shell)


def test_magic_builds_the_filters(sample, magics):
    shown = magics.llm_traces('--name "ag*" --tag env=prod --tag team=x --status error --model gpt-4o '
                              '--session s1 --since 2026-11-20 --until 2026-11-21T00:00 --text "blew up"')
    assert shown.filters == {"name": "ag*", "tags": {"env": "prod", "team": "x"}, "status": "ERROR",
                             "model": "gpt-4o", "session": "s1", "since": "2026-11-20", "until": "2026-11-21T00:00",
                             "text": "blew up"}
    assert "1 trace" in repr(shown)
    assert magics.llm_traces("").filters == {}


@pytest.mark.parametrize(("line", "message"), [
    ("--staus OK", "Did you mean '--status'"),
    ("--status failed", "OK, ERROR, IN_PROGRESS"),
    ("--tag env", "--tag KEY=VALUE"),
    ("--since yesterday", "ISO"),
    ("--since 2026-11-21 --until 2026-11-20", "must be before"),
    ("errors", "unexpected argument 'errors'"),
    ('--name "unclosed', "close your quotes"),
    ("--name", "expected one argument"),
])
def test_magic_mistakes_are_usage_errors_with_the_fix(magics, line, message):
    with pytest.raises(UsageError, match=message):
        magics.llm_traces(line)


# ----------------------------------------------------------------------------------- 100k traces

@pytest.mark.slow
@pytest.mark.file_store  # builds the file's traces table directly; the lake's read times are in docs/lake-benchmarks.md
def test_page_times_on_a_100k_trace_store(capsys):
    n = 100_000
    with get_store().connect() as con:
        con.execute(
            """
            INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls, error_count,
                                input_tokens, output_tokens, cost_usd, tags, session)
            SELECT printf('%032x', i), 'pipeline-' || (i % 50), CASE WHEN i % 100 = 0 THEN 'ERROR' ELSE 'OK' END,
                   ? + i * 1000000000, ? + i * 1000000000 + (i % 977) * 1000000, 1 + i % 40, i % 6, i % 100 = 0,
                   i % 3000, i % 700, CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 1000) / 1e5 END,
                   '{"env": "' || CASE WHEN i % 3 = 0 THEN 'prod' ELSE 'dev' END || '"}', 'session-' || (i % 200)
            FROM range(?) t(i)
            """, [T0 - n * 10**9, T0 - n * 10**9, n])
        # five spans per trace: 500k spans, with models and 100-character inputs for the text filter
        con.execute(
            """
            INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status, model, inputs)
            SELECT printf('%032x', i), printf('%016x', k), 'step-' || k,
                   CASE WHEN k = 1 THEN 'CHAT_MODEL' ELSE 'TOOL' END,
                   ? + i * 1000000000, ? + i * 1000000000 + 1000, 'OK',
                   CASE WHEN k = 1 THEN (CASE WHEN i % 10 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END) END,
                   '{"question": "' || repeat('lorem ipsum ', 8)
                       || CASE WHEN i % 1000 = 7 THEN 'zanzibar' ELSE 'x' END || '"}'
            FROM range(?) t(i), range(5) s(k)
            """, [T0 - n * 10**9, T0 - n * 10**9, n])
    cases = {
        "first page, newest first": {},
        "page at offset 50,000": {"offset": 50_000},
        "last page (offset 99,900)": {"offset": 99_900},
        "sort by cost": {"sort": {"column": "cost", "descending": True}},
        "sort by duration, offset 50,000": {"sort": {"column": "duration", "descending": False}, "offset": 50_000},
        "status=ERROR": {"filters": {"status": "ERROR"}},
        "tag env=prod + name": {"filters": {"tags": {"env": "prod"}, "name": "pipeline-3"}},
        "model=gpt-4o": {"filters": {"model": "gpt-4o"}},
        "time range (1 day)": {"filters": {"since": iso(T0 - 86_400 * 10**9), "until": iso(T0)}},
        "text in span inputs": {"filters": {"text": "zanzibar"}},
    }
    pinned = page({"filters": {"text": "zanzibar"}})["as_of"]
    cases["text, a later page (count reused)"] = {"filters": {"text": "zanzibar"}, "offset": 100, "as_of": pinned}
    timings = {}
    for label, params in cases.items():
        page({**params, "limit": 100})  # warm: the connection is open, as while scrolling
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            result = page({**params, "limit": 100})
            samples.append((time.perf_counter() - start) * 1000)
        timings[label] = (sorted(samples)[2], result["total"], len(result["rows"]))
    assert timings["first page, newest first"][1:] == (n, 100)
    assert timings["last page (offset 99,900)"][1:] == (n, 100)
    assert timings["status=ERROR"][1] == 1000
    assert timings["model=gpt-4o"][1] == 10_000
    assert timings["time range (1 day)"][1] == 86_400
    assert timings["text in span inputs"][1] == 100
    with capsys.disabled():
        print(f"\nTraceList page() on {n:,} traces / {5 * n:,} spans (median of 5, warm connection):")
        for label, (ms, total, rows) in timings.items():
            print(f"  {label:<34} {ms:7.1f} ms   total {total:>7,}   rows {rows}")
    assert all(ms < 2000 for ms, _, _ in timings.values()), timings


def test_the_public_functions_keep_their_names_beside_the_view_packages():
    import llmops_nb.widgets as widgets
    from llmops_nb.widgets.eval_table import _sql  # noqa: F401 - importing a view's modules...
    from llmops_nb.widgets.trace_list import _query  # noqa: F401

    # ...leaves llmops_nb.widgets.trace_list and .eval_table the functions, not the packages
    assert widgets.trace_list.__module__ == "llmops_nb.widgets.trace_list._widget"
    assert widgets.eval_table.__module__ == "llmops_nb.widgets.eval_table._widget"
