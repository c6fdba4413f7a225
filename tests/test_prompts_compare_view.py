"""How a prompts.compare() result displays: the EvalTable comparing the versions' runs, titled by their
URIs (never the runs' hex ids), and a readable script-free table where no renderer is registered."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from llmops_nb import _display, prompts
from llmops_nb.prompts import _comparison_view
from llmops_nb.widgets import _base, install_display, uninstall_display
from llmops_nb.widgets._base import WIDGET_MIME
from llmops_nb.widgets.eval_table import _widget as eval_widget
from tests.glyphs import unsafe_glyphs

XSS = "<img src=x onerror=alert(1)>"
ROWS = [{"inputs": {"question": "What is the capital of France, and why is it that city?"}},
        {"inputs": {"question": f"Say {XSS}"}},
        {"inputs": {"question": "same"}}]


def predict(prompt, question):
    if question == "same":
        return "an answer that did not change"
    # a long, multi-line answer: the view must not squeeze it into a narrow column
    return prompt.format(question=question) + "\nSecond line of a long answer that goes on for a while."


def shouts(outputs):
    return outputs.isupper()


@pytest.fixture
def comparison():
    prompts.register("qa", "Answer: {{question}}")
    prompts.register("qa", "ANSWER BRIEFLY: {{question}}")
    return prompts.compare("qa", 1, 2, ROWS, [shouts], predict)


class Cells(HTMLParser):
    """Tags, attributes, and the text of each <pre> and <th>."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: set[str] = set()
        self.pre: list[str] = []
        self.th: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs |= {name for name, _ in attrs}
        if tag in ("pre", "th"):
            self._in = tag
            (self.pre if tag == "pre" else self.th).append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "pre":
            self.pre[-1] += data
        elif self._in == "th":
            self.th[-1] += data


def test_without_a_renderer_it_is_a_readable_table_named_by_the_versions(comparison):
    bundle = comparison._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html, text = bundle["text/html"], bundle["text/plain"]
    for run_id in (comparison.run_id_a, comparison.run_id_b):
        assert run_id not in html and run_id not in text
    title = "Prompt 'qa': prompts:/qa/1 (baseline) vs prompts:/qa/2 (candidate) on 3 rows"
    assert text.startswith(title + " · output changed in 2\n") and "--- qa v1\n+++ qa v2" in text
    parsed = Cells(html)
    assert set(parsed.tags) <= {"div", "p", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "pre",
                                "details", "summary", "span", "br"}
    assert parsed.attrs <= {"class", "style", "scope"} and "<img" not in html and "&lt;img src=x" in html
    assert ["#", "inputs", "output of prompts:/qa/1", "output of prompts:/qa/2", "scores"] == parsed.th[-5:]
    assert "mean prompts:/qa/1" in parsed.th
    # whole texts with their line breaks, not cut to a narrow column; an unchanged output is said once
    long_answer = ("ANSWER BRIEFLY: What is the capital of France, and why is it that city?\n"
                   "Second line of a long answer that goes on for a while.")
    assert long_answer in parsed.pre and f"question: Say {XSS}" in parsed.pre
    assert "same as prompts:/qa/1" in html and "shouts: False → False (tie)" in html
    assert unsafe_glyphs(html) == set() and unsafe_glyphs(text) == set()


needs_bundle = pytest.mark.skipif(not _base.bundle_available("eval_table"),
                                  reason="JS bundle not built (cd js && npm ci && npm run build)")


@needs_bundle
def test_in_a_kernel_it_is_the_eval_table_comparing_the_two_runs(comparison, monkeypatch):
    from ipywidgets.widgets.widget import _instances

    monkeypatch.setattr(eval_widget, "in_kernel", lambda: True)
    install_display()
    try:
        bundle = comparison._repr_mimebundle_()
    finally:
        uninstall_display()
    table = _instances[bundle[WIDGET_MIME]["model_id"]]
    try:
        # the live table compares version b's run (candidate) with version a's (baseline)
        assert isinstance(table, eval_widget.EvalTable)
        assert (table.run_key, table.compare_to) == (comparison.run_id_b, comparison.run_id_a)
        # its snapshot is the eval table's, the runs named by their versions' URIs
        html = bundle["text/html"]
        assert 'llmops-nb-eval-table' in html and "&lt;img src=x" in html and "<img" not in html
        assert "prompts:/qa/2" in html and "prompts:/qa/1" in html
        for run_id in (comparison.run_id_a, comparison.run_id_b):
            assert run_id not in html and run_id not in bundle["text/plain"]
        assert bundle["text/plain"] == _comparison_view.plain_text(comparison)
    finally:
        table.close()


def test_a_failing_renderer_leaves_the_default_table(comparison):
    def broken(results):
        raise RuntimeError("no comm")

    _display.register(_display.EVALUATION, broken)
    try:
        bundle = comparison._repr_mimebundle_()
    finally:
        _display.register(_display.EVALUATION, None)
    assert bundle == {"text/plain": _comparison_view.plain_text(comparison),
                      "text/html": _comparison_view.default_html(comparison)}


def test_in_a_real_kernel_the_saved_output_is_the_table_named_by_uris(store_path):
    from support import errors, outputs_text, run_cells

    (cell,) = run_cells([
        "from llmops_nb import prompts\n"
        "prompts.register('qa', 'Answer: {{question}}')\n"
        "prompts.register('qa', 'ANSWER: {{question}}')\n"
        "def shouts(outputs):\n    return outputs.isupper()\n"
        "result = prompts.compare('qa', 1, 2, [{'inputs': {'question': 'why?'}}], [shouts],\n"
        "                         lambda prompt, question: prompt.format(question=question))\n"
        "print('runs', result.run_id_a, result.run_id_b)\n"
        "result",
    ], store_path)
    assert not errors(cell), outputs_text(cell)
    run_ids = outputs_text(cell).split("runs ")[1].split()[:2]
    shown = [o["data"] for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
    progress = [d["text/plain"] for d in shown if "llmops-nb-progress" in d.get("text/html", "")]
    assert [line.split(": ")[0] for line in progress] == ["prompts:/qa/1", "prompts:/qa/2"]  # one line per run
    (data,) = [d for d in shown if "llmops-nb-progress" not in d.get("text/html", "")]  # no table per run
    if _base.bundle_available("eval_table"):
        assert WIDGET_MIME in data
    assert "prompts:/qa/1" in data["text/html"] and "prompts:/qa/2" in data["text/html"]
    assert data["text/plain"].startswith("Prompt 'qa': prompts:/qa/1 (baseline) vs prompts:/qa/2 (candidate)")
    for run_id in run_ids:
        assert len(run_id) == 32 and run_id not in data["text/html"] and run_id not in data["text/plain"]
