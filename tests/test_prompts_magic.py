"""%%llm_prompt / %llm_prompt in a real kernel, and the cell-body syntax."""

from __future__ import annotations

import duckdb
import pytest
from IPython.core.error import UsageError
from support import errors, outputs_text, run_cells

from llmops_nb.magics._prompt_magic import parse_body

# Until %load_ext registers PromptMagics itself, the tests register it the same way.
REGISTER = "from llmops_nb.magics._prompt_magic import PromptMagics\nget_ipython().register_magics(PromptMagics)"


def test_body_syntax_text_role_lines_and_json():
    assert parse_body("\n\nAnswer: {{q}}\n  indented\n\n") == "Answer: {{q}}\n  indented"
    assert parse_body("system: Be brief.\nNo jokes.\n\nuser: {{q}}\n") == [
        {"role": "system", "content": "Be brief.\nNo jokes."}, {"role": "user", "content": "{{q}}"}]
    assert parse_body("user:\n  {{q}}") == [{"role": "user", "content": "  {{q}}"}]
    assert parse_body('[{"role": "user", "content": "{{q}}"}]') == [{"role": "user", "content": "{{q}}"}]
    assert parse_body("user: {{q}}", text=True) == "user: {{q}}"
    assert parse_body("Note for the user: {{q}}") == "Note for the user: {{q}}"  # not at the line start
    assert parse_body("User: hi") == "User: hi"  # roles are lowercase
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_body('[{"role": "user", "content": }]')
    with pytest.raises(UsageError, match="the cell is empty"):
        parse_body("\n  \n")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    db = tmp_path_factory.mktemp("prompt-magic") / "nb.duckdb"
    cells = [
        REGISTER,
        # 1: first version
        "%%llm_prompt qa -m 'first try'\nAnswer briefly: {{question}}",
        # 2: second version: the diff shows
        "%%llm_prompt qa -m 'one sentence' --alias staging --tag team=docs\nAnswer in one sentence: {{question}}",
        # 3: re-running the same cell creates nothing
        "%%llm_prompt qa -m 'one sentence' --alias staging --tag team=docs\nAnswer in one sentence: {{question}}",
        # 4: a chat version with a model config
        "%%llm_prompt qa --model-config '{\"temperature\": 0.2}'\nsystem: You answer in one sentence.\n"
        "user: {{question}}",
        # 5-8: show versions
        "%llm_prompt qa",
        "%llm_prompt qa@staging",
        "%llm_prompt prompts:/qa/1 --diff 2",
        "%llm_prompt",
        # 9-16: mistakes
        "%%llm_prompt\nsome text",
        "%%llm_prompt qa@production\nsome text",
        "%%llm_prompt qa\n\n",
        "%%llm_prompt qa --alais x\nsome text",
        "%llm_prompt qa@prod",
        "%llm_prompt qb",
        "%%llm_prompt qa --model-config '{oops'\nx",
        "%%llm_prompt qa\n[{\"role\": \"user\", \"content\": 5}]",
        # 17: the store after it all
        "from llmops_nb import prompts\nprint(prompts.versions('qa')[['version', 'aliases']].values.tolist())",
        # 18-20: with %llm_autotrace on, loading a prompt alone does not create a trace
        "%llm_autotrace on",
        "_ = prompts.load('qa')",
        "%llm_autotrace off",
        "print('traces', len(llmops_nb.traces()))",
    ]
    return db, run_cells(cells, db)


def test_cell_registers_and_shows_the_diff(session):
    _, cells = session
    assert not errors(cells[1]) and "Registered prompts:/qa/1 (new prompt)" in outputs_text(cells[1])
    text = outputs_text(cells[2])
    assert "Registered prompts:/qa/2 (previous: v1) · @staging → v2" in text
    assert "-Answer briefly: {{question}}" in text and "+Answer in one sentence: {{question}}" in text
    html = "".join(out.get("data", {}).get("text/html", "") for out in cells[2].outputs)
    assert "<ins" in html and "one sentence" in html and "<script" not in html
    assert "Unchanged: identical to prompts:/qa/2" in outputs_text(cells[3])
    assert "+system: You answer in one sentence." in outputs_text(cells[4])
    assert "model_config.temperature: + 0.2" in outputs_text(cells[4])


def test_line_magic_shows_versions_and_lists(session):
    _, cells = session
    assert "qa v3" in outputs_text(cells[5]) and "system" in outputs_text(cells[5])
    assert "qa v2 · @staging" in outputs_text(cells[6])
    assert "--- qa v2" in outputs_text(cells[7]) and "+++ qa v1" in outputs_text(cells[7])
    assert "qa" in outputs_text(cells[8]) and "latest_version" in outputs_text(cells[8])
    assert "[[3, []], [2, ['staging']], [1, []]]" in outputs_text(cells[17])


def test_mistakes_are_usage_errors_with_the_fix(session):
    _, cells = session
    expected = {9: "name the prompt", 10: "names a version", 11: "the cell is empty", 12: "Did you mean '--alias'",
                13: "no alias 'prod'", 14: "Did you mean 'qa'", 15: "--model-config takes a JSON object",
                16: "'content' must be a string"}
    for index, fragment in expected.items():
        text = outputs_text(cells[index])
        assert "UsageError" in text and fragment in text, (index, text)
        assert "Traceback" not in text, (index, text)


def test_loading_under_autotrace_creates_no_trace(session):
    _, cells = session
    assert not errors(cells[19]) and outputs_text(cells[21]).strip() == "traces 0"


def test_the_store_holds_what_the_magics_registered(session):
    db, _ = session
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT version, commit_message, tags FROM prompt_versions ORDER BY version").fetchall()
    finally:
        con.close()
    assert rows == [(1, "first try", None), (2, "one sentence", '{"team": "docs"}'), (3, None, None)]
