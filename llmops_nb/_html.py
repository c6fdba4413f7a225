"""HTML from untrusted strings: every display and snapshot that writes markup goes through here.

A trace holds whatever a model or a user sent (``<img onerror=...>``, control characters, lone
surrogates); a notebook output, a GitHub preview or an HTML export must show it as text. So
markup is built in one way: :func:`escape` turns any value into text that is safe in an element
and in a quoted attribute, :class:`Markup` marks HTML we wrote ourselves, and :func:`tag` builds an
element whose children and attribute values are escaped unless they are ``Markup`` already.

>>> tag("td", "<b>hi</b>", title='say "hi"')
'<td title="say &quot;hi&quot;">&lt;b&gt;hi&lt;/b&gt;</td>'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Markup", "clean", "escape", "table", "tag"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Markup(str):
    """A string of HTML we built: :func:`escape` and :func:`tag` pass it through unchanged."""

    __slots__ = ()

    def join(self, parts: Iterable[Any]) -> Markup:
        """The parts joined by this markup, each escaped unless it is ``Markup``: ``Markup("<br>").join(lines)``."""
        return Markup(str.join(self, (escape(p) for p in parts)))


def clean(text: str) -> str:
    """No control characters or lone surrogates reach the page (they break parsers and exports)."""
    text = _CONTROL.sub("\ufffd", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def escape(value: Any, *, quote: bool = True) -> Markup:
    """``value`` as text in HTML: ``<``, ``>``, ``&`` and both quotes escaped; ``Markup`` unchanged.

    ``quote=False`` leaves quotes, for text outside any tag read by a renderer that would show
    ``&quot;`` as typed (plotly's labels)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(clean("" if value is None else str(value)), quote=quote))


def tag(name: str, *children: Any, **attrs: Any) -> Markup:
    """``<name attrs>children</name>``: attribute values and children escaped unless ``Markup``.

    An attribute whose value is None or False is left out; ``True`` writes it bare (``open``).
    A trailing underscore is dropped from attribute names (``class_="x"``).
    """
    rendered = []
    for given, value in attrs.items():
        if value is None or value is False:
            continue
        key = given.rstrip("_").replace("_", "-")
        rendered.append(f" {key}" if value is True else f' {key}="{escape(value)}"')
    return Markup(f"<{name}{''.join(rendered)}>{Markup().join(children)}</{name}>")


def table(headers: Iterable[Any], rows: Iterable[Any], *, caption: Any = None, **attrs: Any) -> Markup:
    """A ``<table>`` with a header row and a body, one line per row: each row is either ``Markup`` (a
    ``<tr>`` built by the caller) or an iterable of cell values, each escaped into a ``<td>``.

    >>> table(["name"], [["<b>"]]).replace("\\n", "")
    '<table><thead><tr><th>name</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    nl = Markup("\n")
    head = tag("thead", tag("tr", *(tag("th", h) for h in headers)))
    body = nl.join(r if isinstance(r, Markup) else tag("tr", *(tag("td", c) for c in r)) for r in rows)
    top = tag("caption", caption, style="text-align:left;font-weight:600") if caption is not None else Markup("")
    return tag("table", top, nl, head, nl, tag("tbody", nl, body, nl), nl, **attrs)
