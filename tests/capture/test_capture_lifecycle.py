"""When capture switches on, and how a cell's end closes what the user left open."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import openai

import llmops_nb
from llmops_nb import _on_import
from llmops_nb.magics._cell_trace import CellTrace
from llmops_nb.tracing import _context
from tests.fakes import FakeLLMServer, Reply
from tests.support import assert_untraced_traceback


def test_autolog_defers_sdk_imports_until_the_user_imports_them():
    code = (
        "import sys, json, llmops_nb\n"
        "names = llmops_nb.autolog()\n"
        "before = [m for m in ('openai', 'anthropic') if m in sys.modules]\n"
        "import openai, anthropic\n"
        "from openai.resources.chat.completions import Completions\n"
        "from anthropic.resources.messages import Messages\n"
        "patched = [hasattr(Completions.create, '__llmops_nb_original__'),\n"
        "           hasattr(Messages.create, '__llmops_nb_original__')]\n"
        "print(json.dumps([names, before, patched]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, before, patched = json.loads(out.stdout)
    assert sorted(names) == ["anthropic", "openai"]
    assert before == []
    assert patched == [True, True]


def test_a_watched_import_that_fails_raises_without_our_frame(tmp_path, monkeypatch):
    (tmp_path / "broken_sdk.py").write_text("raise ImportError('a broken install')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_on_import, "_callbacks", dict(_on_import._callbacks))  # ours stays registered: dropped

    def failed_import():
        try:
            import broken_sdk  # noqa: F401
        except ImportError as exc:
            return exc
        finally:
            sys.modules.pop("broken_sdk", None)
        raise AssertionError("expected the import to fail")

    plain = failed_import()
    _on_import.after_import("broken_sdk", lambda: None)  # as autolog() waits for an SDK not imported yet
    assert_untraced_traceback(failed_import(), plain)


def test_a_stream_left_open_ends_with_its_cell():
    llmops_nb.autolog()
    try:
        with FakeLLMServer() as server, openai.OpenAI(api_key="sk-x", base_url=server.openai_base_url,
                                                      max_retries=0) as client:
            server.enqueue(Reply(text="one two three four five"))
            cell = CellTrace(SimpleNamespace(execution_count=7), "stream = ...", execution_count=7)
            root = cell.materialize()
            token = _context.current_span.set(root)
            try:
                stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                        messages=[{"role": "user", "content": "hi"}])
                first = next(stream)  # read one chunk by hand, never close it
            finally:
                _context.current_span.reset(token)
            assert first.choices is not None
            cell.finish(None)
            assert llmops_nb.flush()
            spans = llmops_nb.spans(root.trace_id)
            llm = spans[spans.kind == "CHAT_MODEL"].iloc[0]
            assert llm.attributes["llmops_nb.stream.ended_with_cell"] is True
            assert llm.end_ns <= spans[spans.parent_span_id.isna()].end_ns.iloc[0]
            trace = llmops_nb.get_trace(root.trace_id)
            assert trace.status == "OK" and trace.span_count == 2 and trace.llm_calls == 1
            stream.close()
    finally:
        llmops_nb.autolog(disable=True)


def test_capture_waiting_for_an_import_is_cancelled_by_disable_and_frameworks_wait_too():
    # One import watcher serves the SDKs and the frameworks (llmops_nb/_on_import.py): autolog()
    # before the import instruments on import; autolog(disable=True) before the import cancels it.
    code = (
        "import sys, json, llmops_nb\n"
        "from llmops_nb.otel import _frameworks\n"
        "llmops_nb.autolog()\n"
        "waiting = _frameworks.status()['waiting_for_import']\n"
        "import langchain_core\n"
        "after = _frameworks.status()\n"
        "llmops_nb.autolog(disable=True)\n"
        "import openai\n"
        "from openai.resources.chat.completions import Completions\n"
        "print(json.dumps([waiting, after['enabled'], hasattr(Completions.create, '__llmops_nb_original__'),\n"
        "                  'langchain_core' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    waiting, enabled, openai_patched, imported = json.loads(out.stdout)
    assert "langchain" in waiting
    assert "langchain" in enabled and imported
    assert openai_patched is False
