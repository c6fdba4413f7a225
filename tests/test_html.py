"""One escaping helper for every HTML llmops_nb writes (``llmops_nb/_html.py``)."""

from __future__ import annotations

import re
from pathlib import Path

from llmops_nb._html import Markup, escape, tag

PACKAGE = Path(__file__).resolve().parent.parent / "llmops_nb"


def test_strings_become_text_and_markup_stays():
    assert escape('<img src=x onerror="alert(1)">') == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert escape("a\x00b\ud800") == "a\ufffdb?"  # control characters and lone surrogates never reach the page
    assert escape(Markup("<b>ok</b>")) == "<b>ok</b>" and escape(None) == ""
    assert tag("td", "<i>", Markup("<b>x</b>"), title="\"'<", colspan=2, open=True, hidden=None) == \
        '<td title="&quot;&#x27;&lt;" colspan="2" open>&lt;i&gt;<b>x</b></td>'
    assert Markup("<br>").join(["<a>", Markup("<b>")]) == "&lt;a&gt;<br><b>"


def test_no_module_escapes_html_another_way():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "_html.py" and re.search(r"\bhtml\.escape\(|^import html$", p.read_text(), re.M)]
    assert offenders == []
