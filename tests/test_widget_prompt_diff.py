"""PromptDiffWidget: the ``history`` and ``diff`` requests answered from a real store, the widget model
(view state only in traitlets), its mimebundle (widget view + script-free text/html + unified text/plain),
the fallbacks that keep a cell alive, the built bundle, and PromptDiff / %%llm_prompt in a real kernel."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import errors, outputs_text, run_cells

from llmops_nb import _display, prompts
from llmops_nb._diff import diff as llmops_diff
from llmops_nb.widgets import _base, install_display, uninstall_display
from llmops_nb.widgets._rpc import RpcServer
from llmops_nb.widgets.prompt_diff import _widget as _prompt_diff
from llmops_nb.widgets.prompt_diff._widget import PromptDiffWidget, prompt_diff_bundle, prompt_diff_methods
from tests.glyphs import unsafe_glyphs

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
XSS = '<img src=x onerror="alert(1)">'

needs_bundle = pytest.mark.skipif(not _base.bundle_available("prompt_diff"),
                                  reason="JS bundle not built (cd js && npm ci && npm run build)")


@pytest.fixture
def greet():
    prompts.register("greet", "Hello {{name}}, welcome aboard.", commit_message="first")
    prompts.register("greet", "Hello {{name}}, a very warm welcome aboard.", commit_message=XSS,
                     model_config={"temperature": 0.2})
    prompts.register("greet", [{"role": "system", "content": "Be formal."},
                               {"role": "user", "content": "Good morning {{name}}, welcome to {{team}}."}],
                     commit_message="formal", tags={"team": "docs"})
    prompts.set_alias("greet", "production", 2)
    return "greet"


def _ask(requests: list[dict]) -> dict:
    sent: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=2)
    server = RpcServer(prompt_diff_methods, sent.append, pool=pool)
    try:
        for request in requests:
            server.handle({"type": "request", **request})
    finally:
        pool.shutdown(wait=True)
    return {message["id"]: message for message in sent}


# ------------------------------------------------------------------------------------------- requests

def test_history_lists_versions_newest_first_with_aliases(greet):
    answer = _ask([{"id": 1, "method": "history", "params": {"name": "greet"}}])[1]
    assert answer["ok"] and answer["data"]["name"] == "greet"
    history = answer["data"]["history"]
    assert [(h["version"], h["aliases"], h["prompt_type"]) for h in history] == [
        (3, [], "chat"), (2, ["production"], "text"), (1, [], "text")]
    assert history[1]["commit_message"] == XSS and history[0]["created_at"].endswith("+00:00")


def test_diff_answers_the_ops_llmops_nb_diff_computes(greet):
    by_id = _ask([{"id": 1, "method": "diff", "params": {"name": "greet", "a": 1, "b": 2}},
                  {"id": 2, "method": "diff", "params": {"name": "greet", "a": "production", "b": "latest"}},
                  {"id": 3, "method": "diff", "params": {"name": "greet"}}])
    one = by_id[1]["data"]
    assert (one["name"], one["a"], one["b"]) == ("greet", 1, 2)
    (row,) = one["diff"]["sections"][0]["rows"]
    # word level: only the inserted words are marked, the rest is equal
    assert [w for w in row["words"] if w[0] != "equal"] == [["insert", "", "a very warm "]]
    assert one["diff"]["metadata"] == [{"field": "model_config", "key": "temperature", "op": "added", "a": None,
                                        "b": 0.2}]
    expected = llmops_diff(prompts.load("greet", version=1), prompts.load("greet", version=2))
    assert one["unified"] == expected.unified and one["diff"]["stats"] == expected.stats()
    assert "a_text" not in one["diff"]["sections"][0]  # rows only: the full texts stay in the kernel
    two = by_id[2]["data"]
    assert (two["a"], two["b"]) == (2, 3)
    assert two["diff"]["variables"] == {"added": ["team"], "removed": [], "kept": ["name"]}
    assert {(m["field"], m["key"], m["op"]) for m in two["diff"]["metadata"]} == {
        ("model_config", "temperature", "removed"), ("tags", "team", "added")}
    assert (by_id[3]["data"]["a"], by_id[3]["data"]["b"]) == (2, 3)  # default: the latest and the one before


@pytest.mark.parametrize(("params", "fragment"), [
    ({}, "diff needs name (a prompt name)"),
    ({"name": 3}, "name must be a prompt name; got 3"),
    ({"name": "greet", "c": 1}, "unknown diff parameter(s) 'c'"),
    ({"name": "gret"}, "Did you mean 'greet'"),
    ({"name": "greet", "a": True}, "a must be a version number, an alias or 'latest'"),
    ({"name": "greet", "b": [1]}, "b must be a version number"),
    ({"name": "greet", "a": "staging"}, "staging"),
    ({"name": "greet", "b": 9}, "9"),
    ({"name": "../etc"}, "Bad prompt name"),
])
def test_bad_diff_requests_are_answered_with_the_reason(greet, params, fragment):
    answer = _ask([{"id": 1, "method": "diff", "params": params}])[1]
    assert answer["ok"] is False and fragment in answer["error"], answer


def test_every_request_is_answered_even_unknown_methods(greet):
    by_id = _ask([{"id": 1, "method": "histroy", "params": {"name": "greet"}},
                  {"id": 2, "method": "history", "params": {"name": "nope"}}])
    assert not by_id[1]["ok"] and "Did you mean 'history'" in by_id[1]["error"]
    assert not by_id[2]["ok"] and by_id[2]["error_type"] == "PromptNotFoundError"


# ----------------------------------------------------------------------------------------- the widget

@needs_bundle
def test_traitlets_hold_view_state_only(greet):
    widget = PromptDiffWidget("greet", "production", "latest", mode="inline")
    assert (widget.name, widget.a, widget.b, widget.mode) == ("greet", 2, 3, "inline")
    state = widget.get_state()
    synced = {k for k in state if not k.startswith("_")} - {"layout", "tabbable", "tooltip"}
    assert synced == {"name", "a", "b", "mode"}
    assert state["_esm"] == _base.esm_path("prompt_diff").read_text()
    assert state["_css"] == _base.css_path("prompt_diff").read_text()
    assert "welcome" not in str({k: state[k] for k in synced})  # no template text is synced
    assert {"history", "diff"} <= set(widget._rpc.methods.names())
    assert repr(widget) == "PromptDiffWidget('greet', a=2, b=3, mode='inline')"
    assert PromptDiffWidget("greet").a == 2  # default: the latest and the one before
    widget.close()


@needs_bundle
def test_select_and_a_new_name_move_the_picked_versions(greet):
    prompts.register("other", "x")
    prompts.register("other", "y")
    widget = PromptDiffWidget("greet")
    assert widget.select(1, "production").b.version == 2 and (widget.a, widget.b) == (1, 2)
    assert widget.prompt_diff.unified.startswith("--- greet v1\n+++ greet v2")
    widget.name = "other"
    assert (widget.a, widget.b) == (1, 2)
    widget.close()


@needs_bundle
@pytest.mark.parametrize(("args", "kwargs", "error", "match"), [
    (("greet",), {"mdoe": "inline"}, TypeError, "check the spelling"),
    (("greet",), {"mode": "split"}, ValueError, "'side' .* or 'inline'"),
    (("nope",), {}, LookupError, "nope"),
    (("greet", 7), {}, LookupError, "7"),
    (("greet", "prod"), {}, LookupError, "prod"),
])
def test_bad_arguments_are_explained(greet, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        PromptDiffWidget(*args, **kwargs)


def test_missing_bundle_is_explained(greet, monkeypatch):
    monkeypatch.setattr(_base, "bundle_available", lambda bundle: False)
    with pytest.raises(RuntimeError, match="npm ci && npm run build"):
        PromptDiffWidget("greet")


@needs_bundle
def test_widget_answers_requests_through_the_comm_path(greet, monkeypatch):
    widget = PromptDiffWidget("greet")
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    widget._rpc._send = widget.send
    request = {"type": "request", "id": "v-1", "method": "diff", "params": {"name": "greet", "a": 1, "b": 3}}
    # what ipywidgets does with a custom message from the front end
    widget._handle_msg({"content": {"data": {"method": "custom", "content": request}}, "buffers": []})
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent and sent[0]["id"] == "v-1" and sent[0]["ok"] is True
    assert sent[0]["data"]["diff"]["b_label"] == "greet v3"
    widget.close()


@needs_bundle
def test_mimebundle_has_the_widget_a_script_free_snapshot_and_the_unified_diff(greet):
    widget = PromptDiffWidget("greet", 1, 2)
    data, _metadata = widget._repr_mimebundle_()
    assert data[WIDGET_MIME]["model_id"] == widget.model_id
    html = data["text/html"]
    assert "<script" not in html.lower() and "<img" not in html and "&lt;img src=x" in html
    assert "<ins" in html and "a very warm" in html
    assert "--- greet v1\n+++ greet v2" in data["text/plain"] and "+Hello {{name}}, a very warm" in data["text/plain"]
    widget.close()


def test_the_snapshot_needs_no_special_font(greet):
    """Skipped lines and a message that only one version has are said with common characters
    (tests/glyphs.py), not ``⋯`` or ``∅``."""
    lines = [f"line {i}" for i in range(12)]
    prompts.register("long", "\n".join(lines))
    prompts.register("long", "\n".join(["first changed", *lines[1:-1], "last changed"]))
    prompts.register("chat2", [{"role": "user", "content": "Hi"}])
    prompts.register("chat2", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    for view in (prompts.diff("long"), prompts.diff("chat2"), prompts.diff("greet", 2, 3)):
        bundle = view.snapshot_bundle()
        assert unsafe_glyphs(bundle["text/html"]) == set() and unsafe_glyphs(bundle["text/plain"]) == set()
    page = prompts.diff("long").snapshot_bundle()["text/html"]
    assert "… 4 unchanged lines …" in page  # 10 between the changes, 3 kept beside each
    assert "none → assistant" in prompts.diff("chat2").snapshot_bundle()["text/html"]


def test_prompt_diff_shows_the_widget_in_a_kernel_and_the_snapshot_elsewhere(greet, monkeypatch):
    view = prompts.diff("greet", 1)
    assert set(view._repr_mimebundle_()) == {"text/plain", "text/html"}  # no renderer registered
    install_display()
    try:
        assert set(view._repr_mimebundle_()) == {"text/plain", "text/html"}  # not in a kernel
        monkeypatch.setattr(_prompt_diff, "in_kernel", lambda: True)
        shown = view._repr_mimebundle_()
        assert _display.renderer(_display.PROMPT_DIFF) is not None
    finally:
        uninstall_display()
    if _base.bundle_available("prompt_diff"):
        assert WIDGET_MIME in shown
    assert shown["text/plain"] == view.snapshot_bundle()["text/plain"]
    assert shown["text/html"] == view.snapshot_bundle()["text/html"]


def test_bundle_falls_back_to_the_snapshot(greet, monkeypatch):
    view = prompts.diff("greet")
    monkeypatch.setattr(_prompt_diff, "in_kernel", lambda: True)
    monkeypatch.setattr(_prompt_diff, "bundle_available", lambda bundle: False)
    assert prompt_diff_bundle(view) == view.snapshot_bundle()
    monkeypatch.setattr(_prompt_diff, "bundle_available", lambda bundle: True)

    def broken(*args, **kwargs):
        raise RuntimeError("no comm")

    monkeypatch.setattr(_prompt_diff, "PromptDiffWidget", broken)
    assert prompt_diff_bundle(view) == view.snapshot_bundle()


# ----------------------------------------------------------------------------------------- the bundle

@needs_bundle
def test_the_bundle_is_an_es_module_that_renders_text_only():
    js = _base.esm_path("prompt_diff").read_text()
    assert re.search(r"export\s*\{[^}]*\bas default\b", js)  # anywidget's render() lives in the default export
    for method in ('"history"', '"diff"'):
        assert method in js
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink
    css = _base.css_path("prompt_diff").read_text()
    assert ".lnb-prompt-diff" in css and "--jp-layout-color0" in css and "--jp-success-color1" in css
    assert "@import" not in css  # self-contained: anywidget ships _css as one string


# ------------------------------------------------------------------------------------------ in a kernel

def test_in_a_kernel_prompt_magic_and_prompts_diff_show_the_widget(store_path):
    cells = [
        "%%llm_prompt greet -m first\nHello {{name}}, welcome aboard.",
        f"%%llm_prompt greet -m {XSS!r}\nHello {{{{name}}}}, a very warm welcome aboard.",
        "from llmops_nb import prompts\nprompts.diff('greet', 1, 2)",
    ]
    executed = run_cells(cells, store_path)
    for cell in executed:
        assert not errors(cell), outputs_text(cell)
    assert not [o for o in executed[0].outputs if o.output_type == "display_data" and WIDGET_MIME in o["data"]]
    for cell in executed[1:]:
        (data,) = [o["data"] for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert WIDGET_MIME in data, data.keys()
        assert "<script" not in data["text/html"].lower() and "&lt;img" in data["text/html"]
        assert "+Hello {{name}}, a very warm welcome aboard." in data["text/plain"]
