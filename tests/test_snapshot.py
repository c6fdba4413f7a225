"""The script-free trace snapshot: structure, content, caps and safety, read back through html.parser."""

from __future__ import annotations

import contextlib
import json
from html.parser import HTMLParser

import openai
import pytest

import llmops_nb
from llmops_nb import _format
from llmops_nb._config import settings
from llmops_nb.widgets.explorer import _snapshot
from llmops_nb.widgets.explorer._snapshot import trace_snapshot, trace_snapshot_html, trace_snapshot_text
from llmops_nb.widgets.trace_list import _snapshot as trace_list_snapshot
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.glyphs import unsafe_glyphs

XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)")
VOID = {"br", "hr", "img", "input", "meta", "link", "wbr"}
ALLOWED_TAGS = {"div", "p", "ul", "li", "details", "summary", "dl", "dt", "dd", "pre", "code", "b", "strong", "em",
                "small", "br"}
ALLOWED_ATTRS = {"open", "title", "style", "class"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for child in self.children:
            if isinstance(child, Node):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def kids(self, tag: str) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node) and c.tag == tag]

    def depth(self, tag: str) -> int:
        """How many ``tag`` elements enclose this node."""
        count, node = 0, self.parent
        while node is not None:
            count += node.tag == tag
            node = node.parent
        return count


class TreeBuilder(HTMLParser):
    """A strict DOM: every end tag must close the element that is open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.open = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_endtag(self, tag):
        assert self.open.tag == tag, f"</{tag}> closes <{self.open.tag}>"
        self.open = self.open.parent

    def handle_data(self, data):
        self.open.children.append(data)

    def handle_comment(self, data):
        raise AssertionError(f"unexpected comment {data!r}")


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.open is builder.root, f"<{builder.open.tag}> never closed"
    return builder.root


def summary_of(details: Node) -> str:
    return details.kids("summary")[0].text()


def find_details(doc: Node, name: str) -> Node:
    for details in doc.iter("details"):
        summaries = details.kids("summary")
        if summaries and name in summaries[0].text():
            return details
    raise AssertionError(f"no span {name!r} in the snapshot")


def assert_safe(html: str) -> Node:
    assert "<script" not in html.lower()
    doc = parse(html)
    for node in doc.iter():
        assert node.tag in ALLOWED_TAGS, node.tag
        for name, value in node.attrs.items():
            assert name in ALLOWED_ATTRS and not name.startswith("on"), name
            assert "javascript:" not in (value or "").lower()
    return doc


def openai_llm(name="openai.chat.completions.create", reply="Paris is sunny."):
    attrs = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 34,
             "llmops_nb.cost_usd": 0.0035}
    with llmops_nb.span(name, kind="CHAT_MODEL", attributes=attrs) as s:
        s.set_inputs({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?\nBe brief."}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_7", "type": "function", "function": {
                "name": "get_weather", "arguments": json.dumps({"city": "Paris", "unit": "C"})}}]},
            {"role": "tool", "tool_call_id": "call_7", "content": "21 C, clear"}]})
        s.set_outputs({"id": "chatcmpl-1", "choices": [{"index": 0, "finish_reason": "stop",
                                                        "message": {"role": "assistant", "content": reply}}]})


@llmops_nb.trace(kind="TOOL")
def get_weather(city: str) -> dict:
    if city == "Atlantis":
        raise LookupError(f"no such city: {city}")
    return {"city": city, "temp_c": 21}


def agent_trace() -> str:
    with llmops_nb.span("weather agent", kind="AGENT") as root:
        with llmops_nb.span("plan", kind="CHAIN"):
            openai_llm()
            get_weather("Paris")
        with contextlib.suppress(LookupError):
            get_weather("Atlantis")
        with llmops_nb.span("search docs", kind="RETRIEVER") as r:
            r.set_inputs({"query": "umbrella policy"})
            r.set_outputs([{"id": "doc-1", "score": 0.91, "text": "Carry one in April."}])
    llmops_nb.flush()
    return root.trace_id


# -- structure and content ---------------------------------------------------------------------

def test_span_tree_nests_details_with_the_root_open():
    doc = assert_safe(trace_snapshot_html(agent_trace()))
    root = find_details(doc, "weather agent")
    assert "open" in root.attrs and root.depth("details") == 0
    plan = find_details(doc, "plan")
    llm = find_details(doc, "gpt-4o · chat")
    assert plan.depth("details") == 1 and llm.depth("details") == 2 and "open" not in llm.attrs
    names_in_order = [summary_of(d).split(" · ")[0] for d in doc.iter("details") if d.kids("summary")
                      and "traceback" not in summary_of(d)]
    assert names_in_order == ["AGENT weather agent", "CHAIN plan", "CHAT_MODEL gpt-4o",
                              "TOOL get_weather", "TOOL get_weather", "RETRIEVER search docs"]


def test_summaries_carry_kind_duration_status_tokens_cost_and_rollups():
    doc = parse(trace_snapshot_html(agent_trace()))
    llm = summary_of(find_details(doc, "gpt-4o · chat"))
    assert llm.startswith("CHAT_MODEL gpt-4o · chat (openai.chat.completions.create) · ")
    assert llm.endswith(" ms · OK · 1,200 in / 34 out tokens · $0.0035")  # the model is in the label
    root = summary_of(find_details(doc, "weather agent"))
    assert "total 1,234 tokens · $0.0035" in root and " · 1 error inside" in root


def test_header_states_the_totals():
    trace_id = agent_trace()
    header = parse(trace_snapshot_html(trace_id)).iter("p").__next__().text()
    assert header.startswith("OK · trace weather agent")
    for fact in ("trace weather agent", "6 spans", "1 LLM call", "1,234 tokens (1,200 in / 34 out)",
                 "$0.0035", "1 error", "0 dropped spans", f"llmops_nb.show('{trace_id}')"):
        assert fact in header, fact


def test_openai_chat_messages_by_role_with_tool_call_arguments():
    doc = parse(trace_snapshot_html(agent_trace()))
    llm = find_details(doc, "gpt-4o · chat")
    dl = llm.kids("dl")[0]
    roles = [dt.text() for dt in dl.kids("dt")]
    assert roles == ["system", "user", "assistant", "tool", "assistant (response)"]
    said = [dd.text() for dd in dl.kids("dd")]
    assert said[0] == "You are a weather bot." and said[1] == "Weather in Paris?\nBe brief."
    assert "→ tool call get_weather call_7" in said[2]
    args = [pre.text() for pre in dl.kids("dd")[2].iter("pre")]
    assert json.loads(args[0]) == {"city": "Paris", "unit": "C"} and '\n  "city": "Paris"' in args[0]
    assert "tool result call_7" in said[3] and "21 C, clear" in said[3]
    assert said[4] == "Paris is sunny."
    assert dl.kids("dd")[1].iter("br").__next__() is not None  # line breaks survive without CSS


def test_openai_responses_shape():
    with llmops_nb.span("openai.responses.create", kind="CHAT_MODEL") as s:
        s.set_inputs({"model": "gpt-4.1", "instructions": "Answer in French.", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Capital of France?"}]},
            {"type": "function_call", "call_id": "fc_1", "name": "lookup", "arguments": '{"country": "FR"}'},
            {"type": "function_call_output", "call_id": "fc_1", "output": "Paris"}]})
        s.set_outputs({"id": "resp_1", "status": "completed", "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "The user wants a capital."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "C'est Paris."}]},
            {"type": "function_call", "call_id": "fc_2", "name": "log", "arguments": '{"ok": true}'}]})
    llmops_nb.flush()
    dl = parse(trace_snapshot_html(s.trace_id)).iter("dl").__next__()
    pairs = [(dt.text(), dd.text()) for dt, dd in zip(dl.kids("dt"), dl.kids("dd"), strict=True)]
    assert pairs[0] == ("system", "Answer in French.")
    assert pairs[1] == ("user", "Capital of France?")
    assert pairs[2][0] == "assistant" and "tool call lookup fc_1" in pairs[2][1] and '"country": "FR"' in pairs[2][1]
    assert pairs[3][0] == "tool" and "tool result fc_1" in pairs[3][1] and "Paris" in pairs[3][1]
    assert pairs[4] == ("assistant (response)", "thinkingThe user wants a capital.")  # the explorer's form
    assert pairs[5] == ("assistant (response)", "C'est Paris.")
    assert "tool call log fc_2" in pairs[6][1] and '"ok": true' in pairs[6][1]


def test_anthropic_messages_shape_with_system_and_content_blocks():
    with llmops_nb.span("anthropic.messages.create", kind="CHAT_MODEL",
                        attributes={"gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 9}) as s:
        s.set_inputs({"model": "claude-sonnet-4-5", "max_tokens": 100,
                      "system": [{"type": "text", "text": "You are terse."}], "messages": [
                          {"role": "user", "content": "Weather in Oslo?"},
                          {"role": "assistant", "content": [
                              {"type": "thinking", "thinking": "Need the tool.", "signature": "sig"},
                              {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
                          {"role": "user", "content": [
                              {"type": "tool_result", "tool_use_id": "toolu_1",
                               "content": [{"type": "text", "text": "-3 C"}]},
                              {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                           "data": "A" * 5000}}]}]})
        s.set_outputs({"id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                       "content": [{"type": "text", "text": "Cold: -3 C."}]})
    llmops_nb.flush()
    html = trace_snapshot_html(s.trace_id)
    dl = parse(html).iter("dl").__next__()
    pairs = [(dt.text(), dd.text()) for dt, dd in zip(dl.kids("dt"), dl.kids("dd"), strict=True)]
    assert pairs[0] == ("system", "You are terse.")
    assert pairs[1] == ("user", "Weather in Oslo?")
    assert "thinkingNeed the tool." in pairs[2][1] and "tool call get_weather toolu_1" in pairs[2][1]
    assert '"city": "Oslo"' in pairs[2][1]
    assert "tool result toolu_1" in pairs[3][1] and "-3 C" in pairs[3][1] and "image" in pairs[3][1]
    assert pairs[4] == ("assistant (response)", "Cold: -3 C.")
    assert "A" * 200 not in html  # an image's data is summarized, not pasted


def test_long_conversations_show_the_first_and_last_messages():
    with llmops_nb.span("chat", kind="LLM") as s:
        s.set_inputs({"messages": [{"role": "user", "content": f"message {i}"} for i in range(40)]})
    llmops_nb.flush()
    dl = parse(trace_snapshot_html(s.trace_id)).iter("dl").__next__()
    shown = [dd.text() for dd in dl.kids("dd")]
    keep_head, keep_tail = _snapshot._KEEP_HEAD, _snapshot._KEEP_TAIL
    assert shown == [f"message {i}" for i in [*range(keep_head), *range(40 - keep_tail, 40)]]
    assert f"{40 - keep_head - keep_tail} messages not shown" in dl.text()


def test_error_spans_are_marked_with_message_and_traceback():
    trace_id = agent_trace()
    doc = parse(trace_snapshot_html(trace_id))
    failed = [d for d in doc.iter("details") if d.kids("summary") and " · ERROR" in summary_of(d)]
    assert len(failed) == 1 and "open" in failed[0].attrs and failed[0].kids("summary")[0].attrs["style"] == \
        "color:#cf222e"
    assert "ERROR: no such city: Atlantis" in summary_of(failed[0])
    assert "Error LookupError: no such city: Atlantis" in failed[0].kids("p")[0].text()
    traceback = failed[0].kids("details")[0]
    assert summary_of(traceback) == "traceback" and "Traceback (most recent call last)" in traceback.text()
    assert 'raise LookupError(f"no such city: {city}")' in traceback.text()


def test_a_failed_trace_says_so_in_its_header():
    with contextlib.suppress(TimeoutError), llmops_nb.span("nightly eval", kind="CHAIN") as root:
        raise TimeoutError("model did not answer in 30 s")
    llmops_nb.flush()
    header = parse(trace_snapshot_html(root.trace_id)).iter("p").__next__().text()
    assert header.startswith("ERROR · trace nightly eval") and "1 error" in header
    assert "Error: model did not answer in 30 s" in header
    text = trace_snapshot_text(root.trace_id).splitlines()
    assert text[0].startswith("ERROR · trace 'nightly eval'") and text[1] == "  error: model did not answer in 30 s"


def test_tool_and_retriever_inputs_and_outputs_briefly():
    doc = parse(trace_snapshot_html(agent_trace()))
    retriever = find_details(doc, "search docs").kids("dl")[0]
    assert [dt.text() for dt in retriever.kids("dt")] == ["inputs", "outputs"]
    keys = retriever.kids("dd")[0].kids("dl")[0]  # a dict: its keys and values, not its JSON
    assert [(dt.text(), dd.text()) for dt, dd in zip(keys.kids("dt"), keys.kids("dd"), strict=True)] == [
        ("query", "umbrella policy")]
    assert json.loads(retriever.kids("dd")[1].text()) == [{"id": "doc-1", "score": 0.91, "text": "Carry one in April."}]


def test_a_cell_source_and_text_read_as_text_with_their_line_breaks():
    source = 'import x\nfoo("<b>")\nfor i in range(3):\n    bar(i)'
    with llmops_nb.span("cell", kind="CHAIN") as root:  # what %%llm_trace records: {"cell": source}
        root.set_inputs({"cell": source, "retries": 2, "strict": True, "options": {"a": [1, 2]}})
        with llmops_nb.span("summarize", kind="TOOL") as tool:
            tool.set_inputs("line one\nline two")
            tool.set_outputs({"summary": "short\ntext"})
        root.set_outputs("done\n")
    llmops_nb.flush()
    html = trace_snapshot_html(root.trace_id)
    doc = assert_safe(html)
    cell = find_details(doc, "CHAIN cell").kids("dl")[0]
    assert [dt.text() for dt in cell.kids("dt")] == ["inputs", "outputs"]
    inputs = cell.kids("dd")[0].kids("dl")[0]
    pairs = dict(zip((dt.text() for dt in inputs.kids("dt")), inputs.kids("dd"), strict=True))
    assert pairs["cell"].kids("pre")[0].text() == source  # real line breaks and quotes, not JSON's \n and \"
    assert pairs["retries"].text() == "2" and pairs["strict"].text() == "true"
    assert json.loads(pairs["options"].text()) == {"a": [1, 2]}
    assert cell.kids("dd")[1].kids("pre")[0].text() == "done\n"
    assert '\\n' not in html and "&quot;import" not in html and 'foo(&quot;&lt;b&gt;&quot;)' in html
    tool = find_details(doc, "TOOL summarize").kids("dl")[0]
    assert [pre.text() for pre in tool.iter("pre")] == ["line one\nline two", "short\ntext"]


def test_a_cell_that_passes_a_key_still_reads_as_text_with_the_key_redacted():
    # redacting `api_key=\"...\"` inside the stored JSON once broke it, and the cell showed as raw JSON
    source = 'client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")\nclient.models.list()'
    with llmops_nb.span("cell", kind="CHAIN") as root:
        root.set_inputs({"cell": source})
    llmops_nb.flush()
    stored = llmops_nb.sql("SELECT inputs FROM spans WHERE span_id = ?", [root.span_id]).inputs[0]
    assert json.loads(stored) == {"cell": source.replace('"sk-test"', '"[redacted]"')}
    pre = find_details(parse(trace_snapshot_html(root.trace_id)), "CHAIN cell").iter("pre").__next__()
    assert pre.text() == source.replace('"sk-test"', '"[redacted]"')


def test_a_dict_with_many_keys_lists_the_first_and_counts_the_rest():
    with llmops_nb.span("wide", kind="TOOL") as s:
        s.set_inputs({f"k{i}": i for i in range(30)})
    llmops_nb.flush()
    keys = parse(trace_snapshot_html(s.trace_id)).iter("dl").__next__().kids("dd")[0].kids("dl")[0]
    assert [dt.text() for dt in keys.kids("dt")] == [f"k{i}" for i in range(20)] + ["… 10 more keys not shown"]


def test_plain_text_tree():
    trace_id = agent_trace()
    lines = trace_snapshot_text(trace_id).splitlines()
    assert lines[0].startswith("OK · trace 'weather agent' · 6 spans · 1 LLM call · 1,234 tokens")
    assert lines[0].endswith(f"id {trace_id}")
    assert lines[1].startswith("  AGENT weather agent · ") and lines[1].endswith(" · 1 error inside")
    assert lines[2].startswith("    CHAIN plan · ")
    assert lines[3].startswith("      CHAT_MODEL gpt-4o · chat (openai.chat.completions.create) · ")
    assert lines[3].endswith("· OK · 1,200 in / 34 out tokens · $0.0035")
    assert lines[5].startswith("    TOOL get_weather · ") and "ERROR: no such city: Atlantis" in lines[5]
    both = trace_snapshot(trace_id)
    assert both["text/plain"] == "\n".join(lines) and both["text/html"] == trace_snapshot_html(trace_id)


def test_a_trace_still_running_lists_its_ended_spans():
    with llmops_nb.span("long job", kind="AGENT") as root:
        with llmops_nb.span("first step", kind="TOOL"):
            pass
        llmops_nb.flush()
        html, text = trace_snapshot_html(root.trace_id), trace_snapshot_text(root.trace_id)
    assert "running" in text and "TOOL first step" in text
    assert "TOOL first step" in parse(html).text()


def test_unknown_and_malformed_trace_ids():
    missing = "0" * 31 + "1"
    assert "not in the store (yet)" in parse(trace_snapshot_html(missing)).text()
    assert "not in the store (yet)" in trace_snapshot_text(missing)
    with pytest.raises(ValueError, match="32 lowercase hex"):
        trace_snapshot_html("nope")


# -- LLM calls and costs -------------------------------------------------------------------------

def streamed_agent_trace() -> str:
    """Two real openai SDK calls against the fake, a plain one and a streamed one, under an agent."""
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris.", usage=Usage(input_tokens=14, output_tokens=12)),
                       Reply(text="Bienvenue!", delay=0.12, usage=Usage(input_tokens=10, output_tokens=10)))
        llmops_nb.autolog()
        try:
            with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client, \
                    llmops_nb.span("agent", kind="AGENT") as root:
                ask = [{"role": "user", "content": "Capital of France?"}]
                client.chat.completions.create(model="gpt-4o-mini", messages=ask)
                for _ in client.chat.completions.create(model="gpt-4o-mini", messages=ask, stream=True,
                                                        stream_options={"include_usage": True}):
                    pass
        finally:
            llmops_nb.autolog(disable=True)
    llmops_nb.flush()
    return root.trace_id


def test_llm_calls_read_model_operation_with_stream_and_time_to_first_token():
    trace_id = streamed_agent_trace()
    doc = assert_safe(trace_snapshot_html(trace_id))
    plain, streamed = [d for d in doc.iter("details") if "gpt-4o-mini · chat" in summary_of(d)]
    # `model · operation`, the span's own name kept beside it
    assert summary_of(plain).startswith("CHAT_MODEL gpt-4o-mini · chat (openai.chat.completions.create) · ")
    assert "[stream]" not in summary_of(plain)
    head = summary_of(streamed)
    assert head.startswith("CHAT_MODEL gpt-4o-mini · chat (openai.chat.completions.create) [stream] · ")
    assert " · OK · TTFT " in head
    ttft = float(head.split("TTFT ")[1].split(" ms")[0])
    assert ttft >= 120
    # the events at their time after the span's start, never an epoch in ns
    events = next(dl for dl in streamed.kids("dl") if dl.kids("dt")[0].text() == "events")
    assert events.kids("dd")[0].text() == f"+{ttft:.1f} ms gen_ai.first_token"
    # a real small cost, with its significant digits: 10 in / 10 out tokens of gpt-4o-mini
    assert head.endswith(" · 10 in / 10 out tokens · $0.0000075")
    line = next(t for t in trace_snapshot_text(trace_id).splitlines() if "[stream]" in t)
    assert line.startswith("    CHAT_MODEL gpt-4o-mini · chat (openai.chat.completions.create) [stream] · ")
    assert f"TTFT {ttft:.1f} ms" in line


def test_embedding_and_async_spans_are_labelled_and_marked():
    with llmops_nb.span("openai.embeddings.create", kind="EMBEDDING",
                        attributes={"gen_ai.request.model": "text-embedding-3-small", "llmops_nb.async": True}) as s:
        pass
    llmops_nb.flush()
    doc = assert_safe(trace_snapshot_html(s.trace_id))
    summary = "EMBEDDING text-embedding-3-small · embeddings (openai.embeddings.create) [async] · "
    assert next(doc.iter("li")).text().startswith("• " + summary)  # a span with nothing inside: a bullet
    assert trace_snapshot_text(s.trace_id).splitlines()[1].startswith("  " + summary)


@pytest.mark.parametrize(("usd", "text"), [
    (0.000017, "$0.000017"), (0.0000071, "$0.0000071"), (0.0012, "$0.0012"), (0.42, "$0.42"), (0.0999, "$0.10"),
    (12.34, "$12.34"), (1234.5, "$1,234.50"), (0, "$0"), (0.0, "$0"), (None, "–"), (float("nan"), "–"),
    (1e-9, "<$0.00000001"),
])
def test_costs_keep_two_significant_digits(usd, text):
    assert _format.cost(usd) == text  # js/lib/format.js writes the same (js/tests/format.test.js)


def test_every_snapshot_writes_small_costs_with_their_digits():
    with llmops_nb.span("cheap agent", kind="AGENT") as root:
        with llmops_nb.span("llm", kind="LLM", attributes={"llmops_nb.cost_usd": 0.000017}):
            pass
    with llmops_nb.span("unpriced", kind="AGENT"):
        pass
    llmops_nb.flush()
    header = parse(trace_snapshot_html(root.trace_id)).iter("p").__next__().text()
    assert "$0.000017" in header and "$0.0000" not in header.replace("$0.000017", "")
    assert "· $0.000017" in trace_snapshot_text(root.trace_id).splitlines()[2]
    listed = trace_list_snapshot.snapshot({})["text/html"]
    assert "<td>cheap agent</td>" in listed and "<td>$0.000017</td>" in listed
    assert "<td>–</td>" in listed  # the unpriced trace: unknown, not $0


# -- safety ----------------------------------------------------------------------------------

def test_trace_strings_render_as_visible_text_never_as_markup():
    evil = " ".join(XSS)
    with llmops_nb.span(f"agent {evil}", kind="AGENT", attributes={"gen_ai.request.model": evil}) as root:
        with llmops_nb.span(evil, kind="CHAT_MODEL", attributes={"gen_ai.request.model": evil}) as llm:
            llm.set_inputs({"system": evil, "messages": [
                {"role": evil, "content": [{"type": "text", "text": evil},
                                           {"type": evil, "x": evil}]},
                {"role": "assistant",
                 "content": [{"type": "tool_use", "id": evil, "name": evil, "input": {evil: evil}}]}]})
            llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": evil, "tool_calls": [
                {"id": evil, "function": {"name": evil, "arguments": evil}}]}}]})
        with llmops_nb.span('quote" onmouseover="alert(1)', kind="TOOL") as tool:
            tool.set_inputs({"q": evil})
            tool.set_outputs(evil)
        with contextlib.suppress(RuntimeError), llmops_nb.span(evil, kind="TOOL"):
            raise RuntimeError(evil)
    llmops_nb.flush()
    html = trace_snapshot_html(root.trace_id)
    doc = assert_safe(html)
    text = doc.text()
    for payload in XSS:
        assert text.count(payload) >= 10, payload  # visible, as typed
    assert 'quote" onmouseover="alert(1)' in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(1)" in trace_snapshot_text(root.trace_id)  # plain text is text


def test_control_characters_never_reach_the_page():
    with llmops_nb.span("nul\x00bell\x07", kind="TOOL") as s:
        s.set_inputs("esc\x1b[31m")
    llmops_nb.flush()
    html = trace_snapshot_html(s.trace_id)
    html.encode("utf-8")
    assert "\x00" not in html and "\x07" not in html and "\x1b" not in html
    assert "nul\ufffdbell\ufffd" in parse(html).text()


# -- caps ------------------------------------------------------------------------------------

def test_a_20k_span_trace_stays_under_the_cap_and_says_so():
    with llmops_nb.span("big agent", kind="AGENT") as root:
        for i in range(100):
            with llmops_nb.span(f"step {i}", kind="CHAIN"):
                for j in range(199):
                    with llmops_nb.span(f"tool {i}.{j}", kind="TOOL") as s:
                        s.set_inputs({"i": i, "j": j})
    llmops_nb.flush()
    both = trace_snapshot(root.trace_id)
    html = both["text/html"]
    assert len(html.encode()) <= _snapshot.MAX_BYTES
    doc = assert_safe(html)
    shown = list(doc.iter("li"))
    assert len(shown) == _snapshot.MAX_SPANS
    hidden = 20_001 - _snapshot.MAX_SPANS
    note = f"… {hidden:,} more spans not shown (snapshot capped at {_snapshot.MAX_SPANS} spans / 200 KB); " \
           f"open the trace with llmops_nb.show('{root.trace_id}')"
    assert note in doc.text()
    assert "20,001 spans" in doc.text()
    text = both["text/plain"].splitlines()
    assert len(text) == 1 + _snapshot.MAX_SPANS + 1 and text[-1].startswith(f"… {hidden:,} more spans not shown")


def test_a_deep_chain_is_listed_without_unbounded_nesting():
    depth = 300
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(llmops_nb.span("level 0", kind="CHAIN"))
        for level in range(1, depth):
            stack.enter_context(llmops_nb.span(f"level {level}", kind="CHAIN"))
    llmops_nb.flush()
    doc = assert_safe(trace_snapshot_html(root.trace_id))
    deepest = max(li.depth("li") for li in doc.iter("li"))
    assert deepest == _snapshot.MAX_NEST
    assert "[depth 199] CHAIN level 199" in doc.text() and "100 more spans not shown" in doc.text()
    text = trace_snapshot_text(root.trace_id)
    assert "[depth 199] CHAIN level 199" in text
    assert max(len(line) - len(line.lstrip()) for line in text.splitlines()) == 2 * (_snapshot.MAX_NEST + 1)


@pytest.mark.parametrize("payload_cap", [None, 6_000_000])
def test_5mb_payloads_stay_under_the_cap_and_state_it(monkeypatch, payload_cap):
    if payload_cap:  # stored whole, not cut by the store first
        monkeypatch.setattr(settings, "max_payload_chars", payload_cap)
    big = "lorem ipsum " * 440_000  # ~5 MB
    quotes = '"&<>' * 1_300_000  # ~5 MB that escapes to six times its size
    with llmops_nb.span("root", kind="AGENT") as root:
        root.set_inputs({"doc": big})
        with llmops_nb.span("llm", kind="LLM") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": big}]})
            llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": quotes}}]})
        with llmops_nb.span("tool", kind="TOOL") as tool:
            tool.set_inputs(quotes)
            tool.set_outputs([big])
    llmops_nb.flush()
    html = trace_snapshot_html(root.trace_id)
    assert len(html.encode()) <= _snapshot.MAX_BYTES
    doc = assert_safe(html)
    assert [summary_of(d).split(" · ")[0] for d in doc.iter("details")] == ["AGENT root", "LLM llm", "TOOL tool"]
    assert "snapshot shows the first" in doc.text()
    for name in ("llm", "tool"):
        assert len(find_details(doc, name).text()) < _snapshot.SPAN_BYTES
    assert len(trace_snapshot_text(root.trace_id)) < 2_000


def test_many_large_spans_hit_the_byte_cap_before_the_span_cap():
    with llmops_nb.span("root", kind="AGENT") as root:
        for i in range(150):
            with llmops_nb.span(f"llm {i}", kind="LLM") as llm:
                llm.set_inputs({"messages": [{"role": "user", "content": f"{i} " + "x" * 3000}]})
                llm.set_outputs("y" * 3000)
    llmops_nb.flush()
    html = trace_snapshot_html(root.trace_id)
    assert len(html.encode()) <= _snapshot.MAX_BYTES
    doc = assert_safe(html)
    shown = len(list(doc.iter("li")))
    assert 10 < shown < 151
    assert f"… {151 - shown} more spans not shown" in doc.text()
    assert "[3,002 chars; snapshot shows the first 2,000]" in doc.text()


# -- repeated siblings -----------------------------------------------------------------------------

def loop_trace() -> str:
    """An agent with a loop of 100 `step` spans (each with a tool call, the 58th failing), then three calls
    to one model and one to another."""
    with llmops_nb.span("agent", kind="AGENT") as root:
        for i in range(100):
            with contextlib.suppress(ValueError), llmops_nb.span("step", kind="CHAIN", attributes={"i": i}):
                with llmops_nb.span("lookup", kind="TOOL", attributes={"gen_ai.usage.input_tokens": 1}):
                    pass
                if i == 57:
                    raise ValueError("step 57 broke")
        with llmops_nb.span("step", kind="TOOL"):  # same name, another kind: not in the group
            pass
        for model in ("gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o-mini"):
            with llmops_nb.span("openai.chat.completions.create", kind="CHAT_MODEL",
                                attributes={"gen_ai.request.model": model, "llmops_nb.cost_usd": 0.001}):
                pass
    llmops_nb.flush()
    return root.trace_id


def test_a_loop_of_repeated_siblings_is_one_line_with_its_totals_and_its_ends():
    trace_id = loop_trace()
    doc = assert_safe(trace_snapshot_html(trace_id))
    group = find_details(doc, "step ×100")
    head = summary_of(group)
    assert head.startswith("CHAIN step ×100 · total ") and " · 1 failed · 100 tokens" in head
    assert "open" not in group.attrs and group.kids("summary")[0].attrs["style"] == "color:#cf222e"
    listed = group.kids("ul")[0].kids("li")
    shown = [li.kids("details")[0].kids("summary")[0].text().split(" · ")[0] if li.kids("details") else li.text()
             for li in listed]
    gap = "… {} more step spans not shown (#{} to #{}, and {} spans inside them)"
    assert shown == ["#1 CHAIN step", "#2 CHAIN step", "#3 CHAIN step", gap.format(54, 4, 57, 54), "#58 CHAIN step",
                     gap.format(40, 59, 98, 40), "#99 CHAIN step", "#100 CHAIN step"]
    failed = listed[4].kids("details")[0]
    assert "ERROR: step 57 broke" in summary_of(failed) and "open" in failed.attrs
    assert "TOOL lookup" in failed.text()  # a listed member keeps its subtree
    # another kind and another model are not in a group; three calls to one model are
    root_items = [summary_of(d).split(" · ")[0] if d.kids("summary") else "" for d in
                  (li.kids("details")[0] for li in find_details(doc, "AGENT agent").kids("ul")[0].kids("li")
                   if li.kids("details"))]
    assert root_items[0] == "CHAIN step ×100"
    assert "CHAT_MODEL gpt-4o" in root_items[1] and "×3" in summary_of(find_details(doc, "gpt-4o · chat ×3"))
    calls = summary_of(find_details(doc, "gpt-4o · chat ×3"))
    assert calls.endswith(" ms · $0.0030")
    text = doc.text()
    assert "TOOL step" in text and "gpt-4o-mini · chat (openai.chat.completions.create)" in text
    assert "more spans not shown (snapshot capped" not in text  # the loop fits: its members are summarized


def test_the_plain_text_groups_the_loop_too():
    lines = trace_snapshot_text(loop_trace()).splitlines()
    group = next(i for i, line in enumerate(lines) if "step ×100" in line)
    assert lines[group].startswith("    CHAIN step ×100 · total ") and " · 1 failed" in lines[group]
    members = [line.strip().split(" · ")[0] for line in lines[group + 1:group + 15]]
    assert members[:8] == ["#1 CHAIN step", "TOOL lookup", "#2 CHAIN step", "TOOL lookup", "#3 CHAIN step",
                           "TOOL lookup", "… 54 more step spans not shown (#4 to #57, and 54 spans inside them)",
                           "#58 CHAIN step"]
    assert lines[group + 1].startswith("      #1 CHAIN step")  # members one level under the group
    # the header, the root, the loop's group, 6 steps with their tool, 2 gaps, the TOOL step, the calls' group
    # with its 3 calls, the other call
    assert len(lines) == 1 + 1 + 1 + 6 * 2 + 2 + 1 + 1 + 3 + 1


# -- glyphs ----------------------------------------------------------------------------------------

def test_no_snapshot_needs_a_special_font():
    """Every character of the explorer's and the trace list's snapshots is one common fonts draw
    (tests/glyphs.py says which and why): states are words and colour, not emoji."""
    with contextlib.suppress(TimeoutError), llmops_nb.span("failed job", kind="CHAIN") as failed:
        raise TimeoutError("late")
    with contextlib.ExitStack() as stack:
        deep = stack.enter_context(llmops_nb.span("level 0", kind="CHAIN"))
        for level in range(1, 250):
            stack.enter_context(llmops_nb.span(f"level {level}", kind="CHAIN"))
    llmops_nb.flush()
    missing = "0" * 31 + "1"
    texts = []
    for trace_id in (agent_trace(), loop_trace(), failed.trace_id, deep.trace_id, missing):
        texts += trace_snapshot(trace_id).values()
    texts += trace_list_snapshot.snapshot({}).values()
    texts += trace_list_snapshot.snapshot({"status": "ERROR"}, rows=1).values()
    for text in texts:
        assert unsafe_glyphs(text) == set(), text[:200]
    assert "×100" in "".join(texts) and "…" in "".join(texts)  # the safe ones are in use
