"""The manual API: @trace, span(), nesting, threads, tasks — read back from a real DuckDB file."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

import llmops_nb
from llmops_nb.tracing import _serialize


def _only_trace():
    assert llmops_nb.flush()
    frame = llmops_nb.traces()
    assert len(frame) == 1, frame
    return frame.iloc[0], llmops_nb.spans(frame.trace_id[0])


def test_ids_are_otel_shaped_and_nesting_follows_context():
    @llmops_nb.trace(kind="TOOL")
    def tool(x):
        return x + 1

    with llmops_nb.span("agent", kind="AGENT") as root:
        root.set_inputs({"question": "q"})
        tool(1)
        with llmops_nb.span("retrieve", kind="RETRIEVER") as s:
            s.set_outputs([{"id": "d1", "score": 0.5}])
            s.set_attribute("k", "v")
        root.set_outputs("answer")
    trace, spans = _only_trace()
    assert len(trace.trace_id) == 32 and int(trace.trace_id, 16)
    by_name = spans.set_index("name")
    assert by_name.loc["agent", "parent_span_id"] is None or by_name.loc["agent", "parent_span_id"] != \
        by_name.loc["agent", "parent_span_id"]  # NULL
    root_id = by_name.loc["agent", "span_id"]
    assert len(root_id) == 16
    assert by_name.loc["tool", "parent_span_id"] == root_id
    assert by_name.loc["retrieve", "parent_span_id"] == root_id
    assert by_name.loc["tool", "kind"] == "TOOL"
    assert by_name.loc["tool", "inputs"] == {"x": 1}
    assert by_name.loc["tool", "outputs"] == 2
    assert by_name.loc["retrieve", "outputs"] == [{"id": "d1", "score": 0.5}]
    assert by_name.loc["retrieve", "attributes"] == {"k": "v"}
    assert by_name.loc["agent", "outputs"] == "answer"
    assert trace["span_count"] == 3 and trace["status"] == "OK" and trace["name"] == "agent"
    assert (spans.end_ns >= spans.start_ns).all()


def test_exceptions_propagate_unchanged_and_mark_error():
    class Boom(Exception):
        pass

    err = Boom("kaput")

    @llmops_nb.trace
    def fails():
        raise err

    with pytest.raises(Boom) as caught:
        fails()
    assert caught.value is err
    _, spans = _only_trace()
    row = spans.iloc[0]
    assert row.status == "ERROR" and row.status_message == "kaput"
    assert row.error["type"].endswith("Boom") and "raise err" in row.error["traceback"]
    assert row.events[0]["name"] == "exception"


def test_span_block_exception_and_keyboard_interrupt_propagate():
    with pytest.raises(KeyboardInterrupt), llmops_nb.span("interrupted"):
        raise KeyboardInterrupt
    trace, spans = _only_trace()
    assert trace.status == "ERROR" and spans.iloc[0].error["type"] == "KeyboardInterrupt"


def test_inputs_are_snapshotted_when_recorded():
    messages = [{"role": "user", "content": "hi"}]

    @llmops_nb.trace
    def chat(messages):
        return "ok"

    chat(messages)
    messages.append({"role": "assistant", "content": "later"})
    _, spans = _only_trace()
    assert spans.iloc[0].inputs == {"messages": [{"role": "user", "content": "hi"}]}


def test_methods_static_and_class_methods_skip_self():
    class Agent:
        def __init__(self):
            self.n = 1

        @llmops_nb.trace(name="Agent.step", kind="AGENT", attributes={"team": "a"})
        def step(self, goal, *, depth=1):
            return goal * self.n

        @llmops_nb.trace
        @staticmethod
        def helper(x):
            return x

        @llmops_nb.trace
        @classmethod
        def build(cls, y):
            return y

    agent = Agent()
    assert agent.step("go", depth=2) == "go"
    assert Agent.helper(3) == 3
    assert Agent.build(4) == 4
    assert Agent.step.__name__ == "step"
    assert llmops_nb.flush()
    frame = llmops_nb.sql("SELECT name, inputs, attributes FROM spans ORDER BY start_ns")
    assert list(frame.name) == ["Agent.step", "Agent.helper", "Agent.build"]
    assert frame.inputs[0] == '{"goal": "go", "depth": 2}'
    assert frame.inputs[2] == '{"y": 4}'
    assert '"team": "a"' in frame.attributes[0]


def test_generators_record_items_and_early_close():
    @llmops_nb.trace
    def numbers(n):
        yield from range(n)
        return "done"

    assert list(numbers(3)) == [0, 1, 2]
    gen = numbers(10)
    assert next(gen) == 0
    gen.close()
    assert llmops_nb.flush()
    frame = llmops_nb.sql("SELECT outputs, attributes, status FROM spans ORDER BY start_ns")
    assert frame.outputs[0] == "[0, 1, 2]"
    assert frame.outputs[1] == "[0]" and "closed_early" in frame.attributes[1]
    assert list(frame.status) == ["OK", "OK"]


def test_generator_send_and_throw_are_forwarded():
    @llmops_nb.trace
    def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except ValueError:
            yield "caught"

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.throw(ValueError("x")) == "caught"
    gen.close()


def test_async_functions_and_tasks_nest():
    @llmops_nb.trace(kind="TOOL")
    async def leaf(i):
        await asyncio.sleep(0.001)
        return i

    @llmops_nb.trace(kind="AGENT")
    async def root():
        return await asyncio.gather(*(asyncio.create_task(leaf(i)) for i in range(3)))

    assert asyncio.run(root()) == [0, 1, 2]
    _, spans = _only_trace()
    root_id = spans[spans.name.str.endswith("root")].span_id.iloc[0]
    leaves = spans[spans.kind == "TOOL"]
    assert len(leaves) == 3 and (leaves.parent_span_id == root_id).all()


def test_async_generators():
    @llmops_nb.trace
    async def stream():
        for i in range(3):
            yield i

    async def consume():
        return [x async for x in stream()]

    assert asyncio.run(consume()) == [0, 1, 2]
    _, spans = _only_trace()
    assert spans.iloc[0].outputs == [0, 1, 2]


def test_thread_pool_work_joins_the_parent_span():
    @llmops_nb.trace(kind="TOOL")
    def work(i):
        return i * i

    with llmops_nb.span("fan-out", kind="CHAIN"), concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(8))) == [i * i for i in range(8)]
    trace, spans = _only_trace()
    root_id = spans[spans.name == "fan-out"].span_id.iloc[0]
    assert trace.span_count == 9
    assert (spans[spans.kind == "TOOL"].parent_span_id == root_id).all()


def test_thread_pool_without_span_is_untouched():
    seen = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pool.submit(lambda: seen.append(llmops_nb.get_current_span())).result()
    assert seen == [None]


def test_plain_threads_do_not_inherit_the_span():
    results = []
    with llmops_nb.span("outer"):
        t = threading.Thread(target=lambda: results.append(llmops_nb.get_current_span()))
        t.start()
        t.join()
    assert results == [None]


def test_bad_kind_and_bad_name_are_clear_errors():
    with pytest.raises(ValueError, match="Did you mean 'TOOL'"):
        llmops_nb.trace(kind="TOOLS")
    with pytest.raises(TypeError, match="non-empty name"):
        llmops_nb.span("")
    assert llmops_nb.span("x", kind="retriever")._kind == "RETRIEVER"


def test_internal_failure_is_logged_once_and_the_call_proceeds(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("serializer bug")

    monkeypatch.setattr(_serialize, "to_json", broken)

    @llmops_nb.trace
    def f(x):
        return x * 2

    with caplog.at_level("WARNING", logger="llmops_nb"):
        assert [f(i) for i in range(5)] == [0, 2, 4, 6, 8]
    warnings = [r for r in caplog.records if "trace.begin" in r.getMessage()]
    assert len(warnings) == 1
    assert llmops_nb.status()["internal_failures"]["trace.begin"] >= 5


def test_status_reports_counts():
    before = llmops_nb.status()
    with llmops_nb.span("s"):
        pass
    llmops_nb.flush()
    status = llmops_nb.status()
    assert status["spans_written"] == before["spans_written"] + 1
    assert status["dropped_spans"] == before["dropped_spans"] and status["spans_waiting"] == 0


def test_traced_recursion_reaches_the_depth_untraced_recursion_reaches():
    import sys

    def plain(n):
        return 0 if n == 0 else 1 + plain(n - 1)

    @llmops_nb.trace
    def traced(n):
        return 0 if n == 0 else 1 + traced(n - 1)

    def deepest(fn):
        low, high = 1, 4000
        while low < high:
            mid = (low + high + 1) // 2
            try:
                fn(mid)
                low = mid
            except RecursionError:
                high = mid - 1
        return low

    limit = sys.getrecursionlimit()
    untraced = deepest(plain)
    assert deepest(traced) >= untraced - 5  # was about half before: two frames per traced level
    assert sys.getrecursionlimit() == limit  # put back once the deep calls returned
    with pytest.raises(RecursionError):  # runaway recursion still ends as it would untraced
        traced(10**6)
    assert sys.getrecursionlimit() == limit


def _error_counts():
    assert llmops_nb.flush()
    return dict(llmops_nb.sql("SELECT name, error_count FROM traces").itertuples(index=False))


def _propagated(spans):
    return {row.name: (row.attributes or {}).get("llmops_nb.error.propagated", False) for row in spans.itertuples()}


def test_one_exception_through_nested_spans_counts_once():
    @llmops_nb.trace
    def inner():
        raise ValueError("boom")

    @llmops_nb.trace
    def middle():
        inner()

    with pytest.raises(ValueError), llmops_nb.span("outer"):
        middle()
    trace, spans = _only_trace()
    assert trace.error_count == 1 and trace.status == "ERROR"
    assert (spans.status == "ERROR").all() and spans.error.map(lambda e: e["message"] == "boom").all()
    assert _propagated(spans) == {"inner": False, "middle": True, "outer": True}


def test_the_in_memory_summary_counts_an_exception_once_too():
    # What a traced cell shows while the store is busy (store/_memory.py) follows the store's rule.
    from llmops_nb.store import _memory
    from llmops_nb.tracing import _record, _sink

    records = []

    class Collect:
        def emit(self, record):
            records.append(record)

        def flush(self, timeout):
            return True

    @llmops_nb.trace
    def inner():
        raise ValueError("boom")

    previous = _sink.current_sink()
    _sink.set_sink(Collect())
    try:
        with pytest.raises(ValueError), llmops_nb.span("outer"):
            inner()
    finally:
        _sink.set_sink(previous)
    assert [r[_record.NAME] for r in records] == ["inner", "outer"]
    assert _memory._info(records)["error_count"] == 1


def test_distinct_exceptions_count_each():
    @llmops_nb.trace
    def inner():
        raise ValueError("first")

    @llmops_nb.trace
    def translates():
        try:
            inner()
        except ValueError as error:
            raise KeyError("second") from error

    @llmops_nb.trace
    def recovers():
        try:
            inner()
        except ValueError:
            return "fallback"

    with pytest.raises(KeyError), llmops_nb.span("two"):
        translates()
    with llmops_nb.span("one") as one:
        recovers()
    assert _error_counts() == {"two": 2, "one": 1}
    assert one._child_errors is None  # a span kept in a variable does not keep its children's exceptions


def test_an_exception_from_a_worker_thread_or_a_task_counts_once():
    @llmops_nb.trace
    def work():
        raise ValueError("in a thread")

    @llmops_nb.trace
    async def task(i):
        raise ValueError(f"task {i}")

    @llmops_nb.trace(name="gather")
    async def gather():
        await asyncio.gather(*(asyncio.create_task(task(i)) for i in range(2)))

    with pytest.raises(ValueError), llmops_nb.span("pool"), concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(work).result()
    with pytest.raises(ValueError):
        asyncio.run(gather())
    # the pool: work's error passes through "pool"; the tasks: two exceptions, one passes through gather
    assert _error_counts() == {"pool": 1, "gather": 2}


def test_a_span_with_malformed_attributes_text_still_writes_and_counts():
    from llmops_nb.tracing import _record, _sink

    with pytest.raises(ValueError), llmops_nb.span("bad") as span:
        raise ValueError("x")
    record = list(_record.full(_record.from_span(span, 1000)))
    record[_record.SPAN_ID] += 1
    record[_record.IS_ROOT] = False
    record[_record.ATTRIBUTES] = "{not json"
    _sink.emit(tuple(record))
    assert _error_counts() == {"bad": 2}


def test_trace_and_span_label_the_trace_they_start_with_tags_and_session():
    @llmops_nb.trace(tags={"app": "served", "build": 7}, session="s-1")
    def answer(question):
        with llmops_nb.span("inner", tags={"step": "lookup"}, session="ignored-here"):
            return question.upper()

    assert answer("hi") == "HI"
    with llmops_nb.span("batch", kind="CHAIN", tags={"app": "batch"}):
        pass
    assert llmops_nb.flush()
    served = llmops_nb.traces(tag="app=served")
    assert served.name.tolist() == ["answer"] and served.tags[0] == {"app": "served", "build": "7"}
    assert served.session[0] == "s-1"
    assert llmops_nb.traces(tag={"app": "batch"}).name.tolist() == ["batch"]
    inner = llmops_nb.spans(served.trace_id[0]).set_index("name").attributes["inner"]
    assert inner["llmops_nb.tags"] == {"step": "lookup"} and inner["llmops_nb.session"] == "ignored-here"
    with pytest.raises(TypeError, match="tags is a dict"):
        llmops_nb.trace(tags=["app=served"])
    with pytest.raises(TypeError, match="session is a string"):
        llmops_nb.span("x", session=3)
