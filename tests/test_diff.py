"""llmops_nb._diff: line and word level, chat messages role by role, variables, metadata, escaped HTML."""

from __future__ import annotations

import re

from llmops_nb import prompts
from llmops_nb._diff import MAX_ROWS, diff


def _lines(d):
    return [op for op in d.ops if op["type"] == "line"]


def test_one_changed_word_is_one_word_op_and_unified_text_is_standard():
    d = diff("Answer briefly.\nUse {{lang}}.", "Answer in detail.\nUse {{lang}}.", a_label="old", b_label="new")
    (line,) = _lines(d)
    assert (line["op"], line["a_line"], line["b_line"]) == ("replace", 1, 1)
    assert [w for w in line["words"] if w[0] != "equal"] == [["replace", "briefly", "in detail"]]
    assert d.unified.splitlines()[:3] == ["--- old", "+++ new", "@@ -1,2 +1,2 @@"]
    assert "-Answer briefly." in d.unified and "+Answer in detail." in d.unified
    assert d.stats() == {"lines_added": 1, "lines_removed": 1, "messages_changed": 0}


def test_inserted_and_deleted_lines_and_no_differences():
    d = diff("a\nb\nc", "a\nc\nd")
    assert [(op["op"], op["a"], op["b"]) for op in _lines(d)] == [("delete", "b", None), ("insert", None, "d")]
    same = diff("same", "same")
    assert not same.changed and same.unified == ""
    assert "no differences" in same._repr_mimebundle_()["text/plain"]
    assert diff(None, "x").changed and diff("", "x").stats()["lines_added"] == 1


def test_variables_added_and_removed():
    d = diff("Hi {{name}}, about {{topic}}", "Hi {{ name }}, in {{lang}}")
    assert d.variables == {"added": ["lang"], "removed": ["topic"], "kept": ["name"]}
    assert {(op["op"], op["name"]) for op in d.ops if op["type"] == "variable"} == {("added", "lang"),
                                                                                    ("removed", "topic")}
    assert "variables: +lang -topic" in d.unified
    # a placeholder is one token: renaming it is one word op
    (line,) = _lines(diff("x {{a}} y", "x {{b}} y"))
    assert [w for w in line["words"] if w[0] != "equal"] == [["replace", "{{a}}", "{{b}}"]]


def test_chat_messages_are_diffed_role_by_role():
    a = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]
    b = [{"role": "system", "content": "Be very brief."}, {"role": "user", "content": "{{q}}"},
         {"role": "assistant", "content": "Sure."}]
    d = diff(a, b)
    messages = [(op["op"], op["role_a"], op["role_b"]) for op in d.ops if op["type"] == "message"]
    assert messages == [("change", "system", "system"), ("insert", None, "assistant")]
    assert [s["status"] for s in d.sections] == ["change", "equal", "insert"]
    assert [w for w in _lines(d)[0]["words"] if w[0] != "equal"] == [["insert", "", " very"]]
    assert "+assistant: Sure." in d.unified and d.stats()["messages_changed"] == 2
    swapped = diff([{"role": "user", "content": "x"}], [{"role": "assistant", "content": "x"}])
    assert [(s["status"], s["role_a"], s["role_b"]) for s in swapped.sections] == [("replace", "user", "assistant")]


def test_prompt_versions_diff_metadata_and_use_their_labels():
    v1 = prompts.register("meta", "Q: {{q}}", tags={"team": "a", "old": "1"}, model_config={"temperature": 0.2})
    v2 = prompts.register("meta", "Q: {{q}}", tags={"team": "b"}, model_config={"temperature": 0.2, "top_p": 0.9})
    d = diff(v1, v2)
    assert (d.a_label, d.b_label) == ("meta v1", "meta v2")
    meta = {(op["field"], op["key"], op["op"]) for op in d.ops if op["type"] == "metadata"}
    assert meta == {("tags", "team", "changed"), ("tags", "old", "removed"), ("model_config", "top_p", "added")}
    assert "tags.team: a -> b" in d.unified and "model_config.top_p: + 0.9" in d.unified
    assert not _lines(d)


def test_text_against_chat_and_outputs_as_json():
    d = diff("Be brief. {{q}}", [{"role": "user", "content": "Be brief. {{q}}"}])
    assert d.kind == "text" and "+user: Be brief. {{q}}" in d.unified
    out = diff({"answer": "Paris", "score": 1}, {"answer": "Rome", "score": 1})
    (line,) = _lines(out)
    assert [w for w in line["words"] if w[0] != "equal"] == [["replace", "Paris", "Rome"]]


def test_html_is_script_free_and_escapes_every_string():
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    d = diff(f"safe\n{hostile} {{{{v}}}}", f"safe\n{hostile}! {{{{w}}}}", a_label="<b>a</b>", b_label="b&c")
    page = d._repr_mimebundle_()["text/html"]
    assert "<script" not in page.lower() and "<img" not in page.lower() and "onerror=\"" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;a&lt;/b&gt;" in page and "b&amp;c" in page
    assert re.search(r"<del[^>]*>.*v.*</del>", page) and "<ins" in page
    assert "<details>" in page  # the inline view, without script
    assert d._repr_mimebundle_()["text/plain"] == d.unified


def test_long_unchanged_runs_collapse_and_huge_diffs_are_capped():
    a = "\n".join(f"line {i}" for i in range(100))
    b = a.replace("line 50", "line fifty")
    page = diff(a, b).html()
    assert "unchanged lines" in page and "line 10<" not in page and "fifty" in page
    big = diff("\n".join(map(str, range(3 * MAX_ROWS))), "\n".join(f"x{i}" for i in range(3 * MAX_ROWS)))
    assert "more rows not drawn" in big.html() and len(big.unified.splitlines()) > 6 * MAX_ROWS


def test_to_dict_is_json_ready():
    import json

    d = diff([{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}])
    data = json.loads(json.dumps(d.to_dict()))
    assert data["kind"] == "chat" and data["sections"][0]["rows"][0]["words"] == [["replace", "a", "b"]]


def test_prompt_diff_history_and_selection():
    for text in ("one {{x}}", "two {{x}}", "three {{x}} {{y}}"):
        prompts.register("hist", text, commit_message=text.split()[0])
    prompts.set_alias("hist", "production", 1)
    view = prompts.diff("hist")
    assert (view.a.version, view.b.version) == (2, 3)
    assert [h["version"] for h in view.history] == [3, 2, 1] and view.history[2]["aliases"] == ["production"]
    assert view.select("production", 2).variables == {"added": [], "removed": [], "kept": ["x"]}
    assert (view.a.version, view.b.version) == (1, 2)
    data = view.to_dict()
    assert data["a"] == 1 and data["b"] == 2 and data["diff"]["a_label"] == "hist v1"
    bundle = view._repr_mimebundle_()
    assert " A v1 @production  one" in bundle["text/plain"] and "<script" not in bundle["text/html"]
    prompts.register("hist", "four")
    assert next(h["version"] for h in view.refresh()) == 4
    assert prompts.diff("hist", 1, "latest").b.version == 4
