"""SessionsView: the ``page`` and ``turns`` methods (paging, the pinned list, filters, errors), the widget
model, its script-free snapshot (a hostile user message stays text), and the ``%llm_sessions`` magic —
on conversations recorded with ``@trace(session=...)`` and ``span(session=...)`` into a real store."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
from IPython.core.error import UsageError

import llmops_nb
from llmops_nb.widgets import _base
from llmops_nb.widgets._rpc import RpcServer
from llmops_nb.widgets.sessions import _query, _snapshot
from llmops_nb.widgets.sessions._widget import sessions_methods, transcript_methods
from tests.glyphs import unsafe_glyphs

XSS = "<img src=x onerror=alert(1)>"
needs_bundle = pytest.mark.skipif(not _base.bundle_available("sessions"),
                                  reason="JS bundle not built (cd js && npm ci && npm run build)")


def call(method: str, params: dict) -> dict:
    """A request as the view sends it: params bound to the handler's signature, then answered."""
    return sessions_methods.get(method)(params)


def chat(session_id: str, questions: list[str], *, name: str = "chat", fail: str | None = None) -> list[str]:
    """A chat app's turns: one traced call per question, the answer its output; ``fail`` raises."""
    ids: list[str] = []

    @llmops_nb.trace(name=name, kind="CHAIN", session=session_id)
    def turn(question: str) -> str:
        ids.append(llmops_nb.get_current_span().trace_id)
        if question == fail:
            raise RuntimeError(f"tool failed on {question!r}")
        return f"answer to {question}\n  (indented line)"

    for question in questions:
        try:
            turn(question)
        except RuntimeError:
            pass
    return ids


@pytest.fixture
def conversations() -> dict[str, list[str]]:
    """Four sessions, oldest first: s-a (2 turns), s-b (3, one failed, feedback), s-xss, s-d (by span())."""
    ids = {"s-a": chat("s-a", ["hello", "bye"]),
           "s-b": chat("s-b", ["first", "boom", "third"], name="support", fail="boom"),
           "s-xss": chat("s-xss", [XSS])}
    for question in ("span one", "span two"):
        with llmops_nb.span("agent", kind="AGENT", session="s-d") as root:
            root.set_inputs({"messages": [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": question}]})
            root.set_outputs({"choices": [{"message": {"role": "assistant", "content": f"re: {question}"}}]})
    llmops_nb.flush()
    llmops_nb.log_feedback(ids["s-b"][0], True, name="helpful")
    llmops_nb.log_feedback(ids["s-b"][2], False, name="helpful")
    return ids


def sessions_of(result: dict) -> list[str]:
    return [r["session"] for r in result["rows"]]


# ----------------------------------------------------------------------------------- page

def test_page_lists_sessions_newest_first_with_their_totals(conversations):
    result = call("page", {})
    assert sessions_of(result) == ["s-d", "s-xss", "s-b", "s-a"]
    assert (result["total"], result["exact"], result["offset"], result["limit"]) == (4, True, 0, 100)
    assert result["as_of"].isdigit() and result["filters"] == {}
    rows = {r["session"]: r for r in result["rows"]}
    b = rows["s-b"]
    assert (b["turns"], b["errors"], b["first_input"], b["last_output"]) == (3, 1, "first", "answer to third "
                                                                                           "(indented line)")
    assert b["scores"] == [{"name": "helpful", "mean": 0.5, "pass_rate": 0.5}] and rows["s-a"]["scores"] == []
    assert b["first_at"] < b["last_at"] and b["first_at"].endswith("+00:00") and b["duration_s"] > 0
    assert rows["s-xss"]["first_input"] == XSS  # data stays as it was; the views escape it
    assert rows["s-d"]["first_input"] == "span one" and rows["s-d"]["last_output"] == "re: span two"
    assert set(b) == {"session", "first_at", "last_at", "turns", "duration_s", "input_tokens", "output_tokens",
                      "tokens", "cost_usd", "errors", "llm_calls", "first_input", "last_output", "scores"}
    json.dumps(result, allow_nan=False)  # what the comm sends: plain JSON


def test_pages_grow_the_total_until_the_last_and_stay_pinned(conversations):
    first = call("page", {"limit": 2})
    assert sessions_of(first) == ["s-d", "s-xss"]
    assert (first["total"], first["exact"]) == (3, False)  # the rows known, plus one: more follow
    chat("s-new", ["late"])  # a new conversation while the user scrolls: not shifting the pinned list
    llmops_nb.flush()
    second = call("page", {"limit": 2, "offset": 2, "as_of": first["as_of"]})
    assert sessions_of(second) == ["s-b", "s-a"] and (second["total"], second["exact"]) == (4, True)
    assert call("page", {"limit": 2, "offset": 4, "as_of": first["as_of"]})["rows"] == []
    assert sessions_of(call("page", {"limit": 2}))[0] == "s-new"  # a new list (a refresh) has it


@pytest.mark.parametrize(("filters", "expected"), [
    ({"name": "support"}, ["s-b"]),
    ({"name": "ch*"}, ["s-xss", "s-a"]),
    ({"limit": 3}, ["s-d", "s-xss", "s-b"]),
    ({"limit": 1, "name": "*"}, ["s-d"]),
    ({"name": "nobody"}, []),
])
def test_page_filters(conversations, filters, expected):
    result = call("page", {"filters": filters})
    assert sessions_of(result) == expected and result["total"] == len(expected) and result["exact"]


def test_time_filters_pick_the_turns(conversations):
    start = llmops_nb.traces(session="s-xss").start_time.min().replace(tzinfo=dt.timezone.utc).isoformat()
    since = call("page", {"filters": {"since": start}})
    assert sessions_of(since) == ["s-d", "s-xss"]
    assert sessions_of(call("page", {"filters": {"until": start}})) == ["s-b", "s-a"]
    assert call("page", {"filters": {"since": " ", "until": ""}})["filters"] == {}  # empty inputs are no filter


def test_the_limit_filter_caps_paging(conversations):
    first = call("page", {"filters": {"limit": 3}, "limit": 2})
    assert sessions_of(first) == ["s-d", "s-xss"] and not first["exact"]
    rest = call("page", {"filters": {"limit": 3}, "limit": 2, "offset": 2, "as_of": first["as_of"]})
    assert sessions_of(rest) == ["s-b"] and (rest["total"], rest["exact"]) == (3, True)


@pytest.mark.parametrize(("params", "message"), [
    ({"filters": {"since": "yesterday"}}, "is not an ISO date/time"),
    ({"filters": {"since": "2026-12-02", "until": "2026-12-01"}}, "must be before until"),
    ({"filters": {"name": "ab[c*"}}, r"write \[\[\] for a literal"),
    ({"filters": {"nmae": "chat"}}, "Did you mean 'name'"),
    ({"filters": {"limit": 0}}, "at least 1"),
    ({"filters": "chat"}, "filters must be an object"),
    ({"offset": -1}, "offset must be an integer at least 0"),
    ({"limit": 5000}, "between 1 and 1000"),
    ({"as_of": "soon"}, "as_of"),
    ({"sort": {"column": "turns"}}, "unknown page parameter"),
])
def test_bad_page_params_are_explained(params, message):
    with pytest.raises(ValueError, match=message):
        call("page", params)


def test_an_empty_store_is_an_exact_empty_page():
    result = call("page", {})
    assert (result["rows"], result["total"], result["exact"]) == ([], 0, True)


# ----------------------------------------------------------------------------------- turns

def test_turns_are_paged_in_order_with_their_words_and_facts(conversations):
    first = call("turns", {"session": "s-b", "limit": 2})
    assert (first["session"], first["total"], first["offset"], first["limit"]) == ("s-b", 3, 0, 2)
    assert [t["turn"] for t in first["rows"]] == [1, 2]
    assert [t["trace_id"] for t in first["rows"]] == conversations["s-b"][:2]
    one, boom = first["rows"]
    assert (one["user"], one["assistant"], one["status"], one["error"]) == (
        "first", "answer to first\n  (indented line)", "OK", None)  # line breaks and indents kept
    assert (boom["user"], boom["assistant"], boom["status"]) == ("boom", "", "ERROR")
    assert "tool failed on 'boom'" in boom["error"]
    assert one["duration_ms"] > 0 and one["start_time"].endswith("+00:00") and one["user_chars"] == 5
    rest = call("turns", {"session": "s-b", "offset": 2, "limit": 2, "as_of": first["as_of"]})
    assert [t["turn"] for t in rest["rows"]] == [3] and rest["as_of"] == first["as_of"]
    json.dumps(first, allow_nan=False)


def test_later_pages_read_the_same_session_as_the_first(conversations):
    first = call("turns", {"session": "s-a", "limit": 1})
    chat("s-a", ["one more"])  # recorded after the first page: the token's reading does not have it
    llmops_nb.flush()
    pinned = call("turns", {"session": "s-a", "offset": 1, "limit": 10, "as_of": first["as_of"]})
    assert pinned["total"] == 2 and [t["user"] for t in pinned["rows"]] == ["bye"]
    fresh = call("turns", {"session": "s-a"})
    assert fresh["total"] == 3 and fresh["as_of"] != first["as_of"]
    # a token of another session, or an unknown one, reads the store again
    other = call("turns", {"session": "s-b", "as_of": first["as_of"]})
    assert other["total"] == 3 and other["as_of"] != first["as_of"]
    assert call("turns", {"session": "s-a", "as_of": "gone"})["total"] == 3


def test_a_huge_turn_is_capped_with_its_length(conversations, monkeypatch):
    monkeypatch.setattr(_query, "TEXT_CHARS", 10)
    turn = call("turns", {"session": "s-xss"})["rows"][0]
    assert turn["user"] == XSS[:10] and turn["user_chars"] == len(XSS)


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"session": "nope"}, LookupError, r"No session 'nope' in the store: list them"),
    ({"session": ""}, ValueError, "session is a session id"),
    ({}, ValueError, "turns needs session"),
    ({"session": 7}, ValueError, "session must be a session id"),
    ({"session": "s-a", "limit": 0}, ValueError, "between 1 and 1000"),
])
def test_bad_turns_params_are_explained(conversations, params, error, message):
    with pytest.raises(error, match=message):
        call("turns", params)


def test_rpc_answers_every_request_and_serves_the_explorer(conversations):
    sent: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=2)
    server = RpcServer(sessions_methods, sent.append, pool=pool)
    try:
        assert set(server.methods.names()) == {"page", "turns", "snapshot", "skeleton", "span", "search",
                                                 "trace_graph", "trace_graph_spans"}
        assert transcript_methods.names() == ["turns"]  # what another view embedding a transcript answers
        requests = [
            {"type": "request", "id": 1, "method": "page", "params": {"limit": 2}},
            {"type": "request", "id": 2, "method": "turns", "params": {"session": "s-a"}},
            {"type": "request", "id": 3, "method": "turns", "params": {"session": "nope"}},
            {"type": "request", "id": 4, "method": "skeleton", "params": {"trace_id": conversations["s-a"][0]}},
            {"type": "request", "id": 5, "method": "snapshot", "params": {"session": "s-xss"}},
            {"type": "request", "id": 6, "method": "pages", "params": {}},
        ]
        for request in requests:
            server.handle(request).exception(timeout=30)
    finally:
        pool.shutdown(wait=True)
    answers = {m["id"]: m for m in sent}
    assert set(answers) == {1, 2, 3, 4, 5, 6}
    assert answers[1]["ok"] and len(answers[1]["data"]["rows"]) == 2
    assert answers[2]["ok"] and [t["user"] for t in answers[2]["data"]["rows"]] == ["hello", "bye"]
    assert not answers[3]["ok"] and answers[3]["error"].startswith("No session 'nope' in the store")
    assert answers[4]["ok"] and answers[4]["data"]["trace"]["name"] == "chat"
    assert answers[5]["ok"] and "&lt;img src=x onerror=alert(1)&gt;" in answers[5]["data"]["text/html"]
    assert not answers[6]["ok"] and "Did you mean 'page'" in answers[6]["error"]


# ----------------------------------------------------------------------------------- snapshot

class _Html(HTMLParser):
    """Every tag and attribute of a snapshot, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data):
        self.text.append(data)


def parsed(html_text: str) -> _Html:
    page = _Html()
    page.feed(html_text)
    return page


def assert_script_free(html_text: str) -> _Html:
    page = parsed(html_text)
    assert page.tags <= {"div", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "small", "pre"}
    assert page.attributes <= {"class", "style"}
    assert "<img" not in html_text and "<script" not in html_text.lower()
    return page


def test_the_list_snapshot_is_a_plain_escaped_table(conversations):
    bundle = _snapshot.snapshot({})
    page = assert_script_free(bundle["text/html"])
    text = "".join(page.text)
    assert "4 sessions in the llmops_nb store (all sessions), newest activity first." in text
    assert XSS in text and "&lt;img src=x onerror=alert(1)&gt;" in bundle["text/html"]
    assert "helpful 50% pass" in text
    assert bundle["text/plain"].splitlines()[0] == ("SessionsView: 4 sessions in the llmops_nb store (all sessions), "
                                                    "newest activity first.")
    assert unsafe_glyphs(bundle["text/plain"]) == set() and unsafe_glyphs(bundle["text/html"]) == set()
    named = _snapshot.snapshot({"name": "support", "since": "2026-01-01"})
    assert "1 session in the llmops_nb store (turns named 'support', turns started at or after 2026-01-01)" in \
        "".join(parsed(named["text/html"]).text)


def test_the_list_snapshot_says_when_more_sessions_follow(conversations):
    assert _snapshot.SNAPSHOT_ROWS == 50
    text = "".join(parsed(_snapshot.list_snapshot({}, rows=2)["text/html"]).text)
    assert "More than 2 sessions" in text and "run the notebook to browse them all" in text


def test_the_transcript_snapshot_shows_the_turns_as_escaped_text(conversations):
    bundle = _snapshot.snapshot({}, "s-xss")
    page = assert_script_free(bundle["text/html"])
    assert "<pre" in bundle["text/html"] and "&lt;img src=x onerror=alert(1)&gt;" in bundle["text/html"]
    text = "".join(page.text)
    assert "Session s-xss: 1 turn" in text and XSS in text and "answer to " + XSS + "\n  (indented line)" in text
    assert bundle["text/plain"].splitlines()[1] == f"  [1] user: {XSS}"
    failed = _snapshot.snapshot({}, "s-b")
    failed_text = "".join(assert_script_free(failed["text/html"]).text)
    assert "3 turns" in failed_text and "1 error" in failed_text and "Error: " in failed_text
    assert "tool failed on 'boom'" in failed_text and "ERROR" in failed_text
    assert unsafe_glyphs(failed["text/html"]) == set() and unsafe_glyphs(failed["text/plain"]) == set()
    missing = _snapshot.snapshot({}, "nope")
    assert missing["text/plain"].startswith("Session 'nope' could not be read: LookupError: No session 'nope'")


def test_the_transcript_snapshot_shows_the_first_50_turns():
    chat("long", [f"question {i}" for i in range(53)])
    llmops_nb.flush()
    bundle = _snapshot.snapshot({}, "long")
    text = "".join(parsed(bundle["text/html"]).text)
    assert "53 turns" in text and "The first 50 turns are shown" in text
    assert "question 49" in text and "question 50" not in text
    assert bundle["text/plain"].splitlines()[-1] == "  … 43 more turns"


# ----------------------------------------------------------------------------------- widget

@needs_bundle
def test_widget_state_bundle_and_methods(conversations):
    from llmops_nb.widgets import SessionsView

    w = SessionsView(since=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), name="ch*", limit=10, height=600)
    try:
        assert w.filters == {"name": "ch*", "since": "2026-01-01T00:00:00.000+00:00", "limit": 10}
        assert (w.session, w.trace_id, w.height, w.search_text) == (None, None, 600, "")
        state = w.get_state()
        assert "rows" not in state and "turns" not in state and state["session"] is None
        assert set(w._rpc.methods.names()) == {"page", "turns", "snapshot", "skeleton", "span", "search",
                                                "trace_graph", "trace_graph_spans"}
        data, _meta = w._repr_mimebundle_()
        assert {_base.WIDGET_MIME, _base.SAVED_VIEW_MIME, "text/html", "text/plain"} <= set(data)
        assert data[_base.SAVED_VIEW_MIME] == {"view": "sessions"}
        assert "2 sessions in the llmops_nb store" in data["text/html"]
        w.session = "s-xss"  # the view picked a conversation: the snapshot is its transcript
        data, _meta = w._repr_mimebundle_()
        assert "Session s-xss" in data["text/html"] and "&lt;img" in data["text/html"]
        assert repr(w) == "SessionsView(session='s-xss', filters={'name': 'ch*', 'since': " \
                          "'2026-01-01T00:00:00.000+00:00', 'limit': 10})"
    finally:
        w.close()
    opened = SessionsView("s-b", trace_id=conversations["s-b"][1])
    assert (opened.session, opened.trace_id, opened.filters) == ("s-b", conversations["s-b"][1], {})
    opened.close()


@needs_bundle
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"sesion": "s-a"}, TypeError, "check the spelling"),
    ({"session": 3}, TypeError, "session is a session id"),
    ({"since": "yesterday"}, ValueError, "is not an ISO date/time"),
    ({"height": 50}, ValueError, "height is in pixels"),
    ({"limit": -2}, ValueError, "at least 1"),
])
def test_widget_arguments_name_the_fix(kwargs, error, message):
    from llmops_nb.widgets import SessionsView

    with pytest.raises(error, match=message):
        SessionsView(**kwargs)


def test_sessions_view_outside_a_kernel_is_the_static_page(conversations):
    from llmops_nb.widgets import sessions_view
    from llmops_nb.widgets.sessions._snapshot import SessionsSnapshot

    shown = sessions_view(name="support")
    assert isinstance(shown, SessionsSnapshot) and shown.filters == {"name": "support"}
    assert repr(shown).startswith("SessionsView: 1 session in the llmops_nb store (turns named 'support')")
    assert set(shown._repr_mimebundle_()) == {"text/html", "text/plain"}
    assert repr(sessions_view("s-a")).startswith("SessionsView: Session s-a: 2 turns")


# ----------------------------------------------------------------------------------- %llm_sessions

@pytest.fixture
def shell():
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    llmops_nb.load_ipython_extension(ip)
    return ip


def test_the_magic_lists_sessions_or_opens_one(conversations, shell):
    shown = shell.run_line_magic("llm_sessions", "")
    assert shown.filters == {} and shown.session is None and repr(shown).startswith("SessionsView: 4 sessions")
    shown = shell.run_line_magic("llm_sessions", '--name "ch*" --since 2026-01-01 --until 2099-01-01 --limit 5')
    assert shown.filters == {"name": "ch*", "since": "2026-01-01", "until": "2099-01-01", "limit": 5}
    assert repr(shown).startswith("SessionsView: 2 sessions")
    one = shell.run_line_magic("llm_sessions", "s-b")
    assert one.session == "s-b" and repr(one).startswith("SessionsView: Session s-b: 3 turns")


@pytest.mark.parametrize(("line", "message"), [
    ("nope", r"no session named 'nope' in the store; %llm_sessions lists them"),
    ("--since yesterday", "is not an ISO date/time"),
    ("--since 2026-12-02 --until 2026-12-01", "must be before until"),
    ("--limit many", "--limit is how many sessions to list"),
    ("--limit 0", "--limit is how many sessions to list"),
    ('--name "ab[c*"', r"write \[\[\] for a literal"),
    ("--nmae chat", "Did you mean '--name'"),
    ("s-a s-b", "unexpected argument 's-b'"),
    ('--name "unclosed', "close your quotes"),
    ("--since", "expected one argument"),
])
def test_magic_mistakes_are_usage_errors_with_the_fix(conversations, shell, line, message):
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("llm_sessions", line)
