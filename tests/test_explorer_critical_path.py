"""The critical path in the trace explorer: one rule (``agents._hotspots.critical_path_of``) behind
``hotspots().critical_path()``, the explorer's skeleton (``critical_path``) and its script-free snapshot,
checked on traces recorded through ``@trace``/``span`` into the test's DuckDB file."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.agents._hotspots import critical_path_of
from llmops_nb.widgets.explorer import _data
from llmops_nb.widgets.explorer._snapshot import trace_snapshot
from llmops_nb.widgets.explorer._widget import TraceExplorer
from tests.test_snapshot import assert_safe, find_details, summary_of

XSS = "<img src=x onerror=alert(1)>"


def path_names(trace_id: str) -> list[str]:
    """The skeleton's critical path, by span name (and the check that hotspots finds the same spans)."""
    skeleton = _data.skeleton(trace_id)
    names = dict(zip(skeleton["spans"]["span_id"], skeleton["spans"]["name"], strict=True))
    path = skeleton["critical_path"]
    assert agents.hotspots(trace_id).critical_path().span_id.tolist() == path  # one rule, one answer
    return [names[span_id] for span_id in path]


def test_sequential_steps_the_last_one_ends_the_trace():
    @llmops_nb.trace(name="step", kind="TOOL")
    def step(ms: float) -> None:
        time.sleep(ms / 1000)

    with llmops_nb.span("agent", kind="AGENT") as root:
        with llmops_nb.span("plan", kind="CHAIN"):
            step(2)
        step(1)
        with llmops_nb.span("answer", kind="CHAIN"):
            with llmops_nb.span("draft", kind="LLM"):
                pass
            with llmops_nb.span("polish", kind="LLM"):
                pass
    llmops_nb.flush()
    assert path_names(root.trace_id) == ["agent", "answer", "polish"]


def threaded_trace() -> str:
    """Two branches in threads: the quick one ends while the slow one waits for it, then steps on."""
    @llmops_nb.trace(name="quick branch", kind="TOOL")
    def quick() -> int:
        return 1

    @llmops_nb.trace(name="first step", kind="TOOL")
    def first_step() -> None:
        time.sleep(0.002)

    @llmops_nb.trace(name="last step", kind="TOOL")
    def last_step() -> None:
        time.sleep(0.002)

    @llmops_nb.trace(name="slow branch", kind="CHAIN")
    def slow(other) -> None:
        first_step()
        other.result()  # ends after the quick branch, whatever the scheduling
        last_step()

    @llmops_nb.trace(name="fan out", kind="AGENT")
    def fan_out() -> str:
        with ThreadPoolExecutor(2) as pool:
            fast = pool.submit(quick)
            pool.submit(slow, fast).result()
        return llmops_nb.get_current_span().trace_id

    trace_id = fan_out()
    llmops_nb.flush()
    return trace_id


def test_parallel_children_in_threads_the_longer_branch_is_on_the_path():
    trace_id = threaded_trace()
    skeleton = _data.skeleton(trace_id)
    spans = skeleton["spans"]
    parents = {spans["name"][i]: spans["name"][p] for i, p in enumerate(spans["parent"]) if p >= 0}
    assert parents["quick branch"] == parents["slow branch"] == "fan out"  # parallel siblings, in two threads
    assert path_names(trace_id) == ["fan out", "slow branch", "last step"]
    assert "quick branch" not in [spans["name"][spans["span_id"].index(s)] for s in skeleton["critical_path"]]


def test_a_child_outliving_its_parent_is_what_the_trace_waited_for():
    parent_done = threading.Event()

    @llmops_nb.trace(name="straggler", kind="TOOL")
    def straggler() -> None:
        parent_done.wait(5)  # still running when its parent has ended

    with llmops_nb.span("agent", kind="AGENT") as root, ThreadPoolExecutor(1) as pool:
        with llmops_nb.span("kick off", kind="CHAIN"):
            left_running = pool.submit(straggler)
        parent_done.set()
        left_running.result()
    llmops_nb.flush()
    frame = llmops_nb.spans(root.trace_id).set_index("name")
    assert frame.end_ns["straggler"] > frame.end_ns["kick off"]
    assert path_names(root.trace_id) == ["agent", "kick off", "straggler"]


def test_a_trace_in_progress_has_the_path_of_its_ended_spans():
    with llmops_nb.span("long job", kind="AGENT") as root:
        with llmops_nb.span("first", kind="TOOL"):
            pass
        with llmops_nb.span("second", kind="CHAIN"):
            with llmops_nb.span("inner", kind="TOOL"):
                pass
        llmops_nb.flush()
        skeleton = _data.skeleton(root.trace_id)  # the root is still open: not in the store
        snapshot = trace_snapshot(root.trace_id)
    assert skeleton["trace"]["status"] == "IN_PROGRESS"
    names = dict(zip(skeleton["spans"]["span_id"], skeleton["spans"]["name"], strict=True))
    assert [names[s] for s in skeleton["critical_path"]] == ["second", "inner"]
    lines = snapshot["text/plain"].splitlines()[1:]
    assert [line.strip().split(" · ")[0] for line in lines] == ["TOOL first", "CHAIN second", "TOOL inner"]
    assert [" · critical path · " in line for line in lines] == [False, True, True]


def test_a_scorer_attached_afterwards_is_not_on_the_path():
    from llmops_nb.evals import scorers

    with llmops_nb.span("agent", kind="AGENT") as root:
        with llmops_nb.span("answer", kind="LLM"):
            pass
    llmops_nb.flush()
    # an evaluation over the stored trace adds its scorer's EVALUATOR span to it, ending last
    llmops_nb.evaluate(llmops_nb.traces(), scorers=[scorers.step_budget(max_steps=3)], progress=False)
    llmops_nb.flush()
    assert "EVALUATOR" in set(llmops_nb.spans(root.trace_id).kind)
    assert path_names(root.trace_id) == ["agent", "answer"]
    evaluator_line = next(line for line in trace_snapshot(root.trace_id)["text/plain"].splitlines()
                          if "step_budget" in line)
    assert "critical path" not in evaluator_line


def test_a_one_span_trace_is_its_own_path():
    with llmops_nb.span("alone", kind="LLM") as only:
        pass
    llmops_nb.flush()
    skeleton = _data.skeleton(only.trace_id)
    assert skeleton["critical_path"] == [only.span_id] == skeleton["spans"]["span_id"]
    assert path_names(only.trace_id) == ["alone"]


def test_the_snapshot_marks_the_path_escaped_and_script_free():
    with llmops_nb.span("agent", kind="AGENT") as root:
        with llmops_nb.span("lookup", kind="TOOL"):
            pass
        for _ in range(3):
            with llmops_nb.span("step", kind="TOOL"):
                pass
        with llmops_nb.span(XSS, kind="CHAIN"):
            with llmops_nb.span("write", kind="LLM"):
                pass
    llmops_nb.flush()
    both = trace_snapshot(root.trace_id)
    html = both["text/html"]
    doc = assert_safe(html)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    on_path = summary_of(find_details(doc, XSS))
    assert on_path.startswith(f"CHAIN {XSS} · critical path · ")
    assert summary_of(find_details(doc, "AGENT agent")).startswith("AGENT agent · critical path · ")
    leaf = next(li.text() for li in doc.iter("li") if "LLM write" in li.text() and not li.kids("details"))
    assert leaf.startswith("• LLM write · critical path · ")  # a span with nothing inside: a bullet
    assert "critical path" not in summary_of(find_details(doc, "step ×3"))
    assert "lookup · critical path" not in doc.text()
    assert "spans marked critical path set the trace's wall time" in doc.text()  # the legend
    marks = [line for line in both["text/plain"].splitlines() if " · critical path · " in line]
    assert [line.strip().split(" · ")[0] for line in marks] == ["AGENT agent", f"CHAIN {XSS}", "LLM write"]


def test_a_group_the_path_runs_through_says_so():
    with llmops_nb.span("loop", kind="AGENT") as root:
        for _ in range(4):
            with llmops_nb.span("step", kind="TOOL"):
                pass
    llmops_nb.flush()
    text = trace_snapshot(root.trace_id)["text/plain"]
    group = next(line for line in text.splitlines() if "step ×4" in line)
    assert group.strip().startswith("TOOL step ×4 · critical path · total ")
    doc = assert_safe(trace_snapshot(root.trace_id)["text/html"])
    assert " · critical path · " in summary_of(find_details(doc, "step ×4"))


def test_the_widget_keeps_the_toggle_in_a_synced_traitlet():
    with llmops_nb.span("agent", kind="AGENT") as root:
        pass
    llmops_nb.flush()
    widget = TraceExplorer(root.trace_id)
    assert widget.show_critical_path is True and widget.get_state()["show_critical_path"] is True
    assert TraceExplorer(root.trace_id, show_critical_path=False).get_state()["show_critical_path"] is False


@pytest.mark.parametrize(("columns", "path"), [
    (([], [], [], []), []),
    ((["a"], [None], [0], [5]), [0]),
    # ties: ending together, the longer (earlier start) wins; then the smaller span id
    ((["r", "x", "y"], [None, "r", "r"], [0, 2, 1], [9, 9, 9]), [0, 2]),
    ((["r", "y", "x"], [None, "r", "r"], [0, 1, 1], [9, 9, 9]), [0, 2]),
    # a span without an end (still running) ends after every ended one
    ((["r", "done", "open"], [None, "r", "r"], [0, 1, 2], [9, 8, None]), [0, 2]),
    # several roots (the trace's root still open, or a parent not stored): the one ending last
    ((["a", "b", "b1"], ["gone", None, "b"], [0, 1, 2], [5, 9, 3]), [1, 2]),
    # a span naming itself its parent is a root; parent links that loop end the walk
    ((["s"], ["s"], [0], [1]), [0]),
    ((["a", "b"], ["b", "a"], [0, 1], [3, 2]), []),
])
def test_the_rule_on_its_edges(columns, path):
    assert critical_path_of(*columns) == path
